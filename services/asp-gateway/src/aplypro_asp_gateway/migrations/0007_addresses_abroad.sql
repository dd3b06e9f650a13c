-- Issue 11, address variants (asp-exchange.md §4.4): what the gateway needs beyond the France variant.
-- Students: street lines and city name, sent only in the Indu variants of a rectification (recovery orders
-- are mailed there) and, for a student living abroad, the foreign city (LOCALITEETRANGER).
ALTER TABLE students
    ADD COLUMN address_lines     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN address_city_name text;
-- Schoolings: the establishment's commune (INSEE) and postal code, the address sent for a student living
-- abroad on a normal payment (the Etranger variant). NULL until the students service sends them.
ALTER TABLE schoolings
    ADD COLUMN establishment_city_insee   text,
    ADD COLUMN establishment_postal_code  text;
