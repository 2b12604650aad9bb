-- Bulk intake now COPYs straight into `reports` (a case reference filed
-- concurrently is a unique violation that rolls the whole upload back), so
-- the staging table and its second write of every report are gone.
DROP TABLE report_staging;
