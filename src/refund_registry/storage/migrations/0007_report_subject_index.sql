-- A buyer's reports are found through the subject keys the report row itself
-- holds (a GIN index), not through a second table with one row per (subject,
-- report): one write less per identifier at intake, one place less to erase
-- on expiry and to re-wrap on key rotation. The kinds a report matched by sit
-- beside its keys, in `identifier_kinds`.
CREATE INDEX reports_subjects ON reports USING gin (subject_keys);
DROP TABLE report_subjects;
