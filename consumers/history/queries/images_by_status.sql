-- Images per day (the day each was created) by their status now, as the tracker last announced it:
-- the same counts as the aggregates consumer's images.* counters. Portable SQL: runs on Athena
-- (Trino) and on the local engine's Athena (DuckDB).
WITH latest AS (
    SELECT
        image_id,
        status,
        created_at,
        ROW_NUMBER() OVER (PARTITION BY image_id ORDER BY status_version DESC) AS position
    FROM pipeline_events
    WHERE type = 'ImageStatusChanged'
)
SELECT SUBSTR(CAST(created_at AS VARCHAR), 1, 10) AS day, status, COUNT(*) AS images
FROM latest
WHERE position = 1
GROUP BY 1, 2
ORDER BY 1, 2
