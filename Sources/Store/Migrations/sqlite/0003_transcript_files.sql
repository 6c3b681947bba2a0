-- A finished AI call's transcript is also written as a text file in its user's folder (beside the recording).
ALTER TABLE call_records ADD COLUMN transcript_path TEXT;
