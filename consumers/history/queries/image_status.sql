-- Each listed image's archived events and the status they add up to ({image_ids}: quoted ids).
SELECT
    image_id,
    COUNT(DISTINCT event_id) AS events,  -- delivery is at least once: count each event once
    CASE
        WHEN MAX(CASE WHEN type = 'ImageRejected' THEN 1 ELSE 0 END) = 1 THEN 'REJECTED'
        WHEN MAX(CASE WHEN type = 'ImageProcessingFailed' THEN 1 ELSE 0 END) = 1 THEN 'FAILED'
        WHEN COUNT(DISTINCT CASE WHEN type IN ('ThumbnailCreated', 'RenditionsCreated', 'ImageAnalyzed') THEN type END) = 3
            THEN 'COMPLETE'
        ELSE 'PROCESSING'
    END AS status
FROM pipeline_events
WHERE image_id IN ({image_ids})
GROUP BY image_id
ORDER BY image_id
