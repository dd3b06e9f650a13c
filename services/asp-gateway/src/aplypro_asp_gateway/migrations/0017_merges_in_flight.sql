-- Merges in flight (issue 13, imports.md §5.8). A request moved to the survivor by a merge keeps the id of the
-- student it was made for: the ASP's answer to a creation that was in flight at the merge names that student's new
-- individual, which lands on the survivor (taken if it has none, else the pair goes to asp_individual_conflicts)
-- instead of an unmatched `individual_id_changed`.
ALTER TABLE payment_requests ADD COLUMN merged_from uuid;
