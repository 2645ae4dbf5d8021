-- Each listed image's status as the tracker last announced it ({image_ids}: quoted ids): the status
-- GET /images/<id> reports, never one worked out again from the raw events. Delivery is at least
-- once and replays happen: the highest version wins and copies collapse.
WITH announced AS (
    SELECT
        image_id,
        status,
        status_version,
        reason_code,
        ROW_NUMBER() OVER (PARTITION BY image_id ORDER BY status_version DESC) AS position
    FROM pipeline_events
    WHERE type = 'ImageStatusChanged' AND image_id IN ({image_ids})
),
archived AS (
    SELECT image_id, COUNT(DISTINCT event_id) AS events
    FROM pipeline_events
    WHERE image_id IN ({image_ids})
    GROUP BY image_id
)
SELECT announced.image_id, announced.status, announced.status_version AS version, announced.reason_code,
    archived.events
FROM announced
JOIN archived ON archived.image_id = announced.image_id
WHERE announced.position = 1
ORDER BY announced.image_id
