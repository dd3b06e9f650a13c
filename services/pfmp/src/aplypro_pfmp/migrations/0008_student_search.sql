-- Student search of the web application (issue 14, features.md §2): "Hélène-Marie" is found by "helene marie",
-- "HELENEMARIE" or "hélène". The key folds case, accents and the ligatures French names carry, then drops
-- everything but letters and digits; the embedded PostgreSQL has no unaccent extension, hence translate().
-- Searches are scoped to one establishment (a few thousand students): the key itself needs no index.
CREATE FUNCTION search_key(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(lower(translate(
        replace(replace(replace(replace(replace(t, 'Œ', 'OE'), 'œ', 'oe'), 'Æ', 'AE'), 'æ', 'ae'), 'ß', 'ss'),
        'ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿ',
        'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyy')), '[^a-z0-9]+', '', 'g')
$$;

-- Every establishment page (classes, dashboard, search) starts from the establishment's schoolings of a year:
-- without this index each one reads the whole national table (650,000 schoolings a year).
CREATE INDEX schoolings_uai_year ON schoolings (uai, school_year, class_label);
