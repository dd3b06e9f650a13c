-- The establishment's commune INSEE code (directory `code_commune`): the ASP address of its students living
-- abroad (asp-gateway blocks them with missing_establishment_city_insee_code while it is empty).
ALTER TABLE establishments ADD COLUMN city_insee text CHECK (city_insee ~ '^([0-9]{5}|2[AB][0-9]{3})$');
