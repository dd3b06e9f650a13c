-- Student search of the web application (issue 14, features.md §2): "Hélène-Marie" is found by "helene marie",
-- "HELENEMARIE" or "hélène". The key folds case, accents and the ligatures French names carry, then drops
-- everything but letters and digits; the embedded PostgreSQL has no unaccent extension, hence translate().
-- Searches are scoped to one establishment (a few thousand students): no index needed.
CREATE FUNCTION search_key(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(lower(translate(
        replace(replace(replace(replace(replace(t, 'Œ', 'OE'), 'œ', 'oe'), 'Æ', 'AE'), 'æ', 'ae'), 'ß', 'ss'),
        'ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿ',
        'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyy')), '[^a-z0-9]+', '', 'g')
$$;
