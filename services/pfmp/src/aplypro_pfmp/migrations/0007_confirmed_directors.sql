-- The confirmed director of each establishment (features.md §1): the director who ticked the statement
-- "legal representative and ordonnateur". One per establishment: the primary key guards it. A login
-- that no longer carries the director role deletes the user's confirmations (service_layer.access).
CREATE TABLE confirmed_directors (
    uai          text PRIMARY KEY,
    user_id      text NOT NULL CHECK (user_id <> ''),
    confirmed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX confirmed_directors_user ON confirmed_directors (user_id);
