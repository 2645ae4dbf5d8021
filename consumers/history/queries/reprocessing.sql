-- What the jobs made per day, for new uploads and again for make reprocess, told apart by the
-- request each answer names (causation_id: an upload's ImageUploaded, or a ReprocessRequested),
-- beside the reprocess requests themselves. Delivery is at least once: copies collapse.
WITH reprocess_requests AS (
    SELECT DISTINCT event_id
    FROM pipeline_events
    WHERE type = 'ReprocessRequested'
),
answers AS (
    SELECT DISTINCT
        answer.event_id,
        answer.type,
        SUBSTR(CAST(answer.occurred_at AS VARCHAR), 1, 10) AS day,
        CASE
            WHEN answer.type = 'ReprocessRequested' OR request.event_id IS NOT NULL THEN 'reprocess'
            ELSE 'upload'
        END AS made_for
    FROM pipeline_events AS answer
    LEFT JOIN reprocess_requests AS request ON answer.causation_id = request.event_id
    WHERE answer.type IN ('ThumbnailCreated', 'RenditionsCreated', 'ImageRejected', 'ReprocessRequested')
)
SELECT day, type, made_for, COUNT(*) AS events
FROM answers
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
