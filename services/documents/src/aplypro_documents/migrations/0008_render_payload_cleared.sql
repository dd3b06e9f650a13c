-- Issue 12: the frozen rendering input (render_payload: names, addresses, IBAN) is needed only until the PDF is
-- stored; a render now clears it in its transaction (postgres_render.record_rendered). The documents rendered
-- before keep theirs no longer. Nothing reads it after the render: downloads serve the stored PDF, a reissue
-- compares input_sha256, `rerender` takes only documents never rendered (documents_renderable still holds:
-- sha256 is set on every row cleared).
UPDATE documents SET render_payload = NULL WHERE sha256 IS NOT NULL AND render_payload IS NOT NULL;
