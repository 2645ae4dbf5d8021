-- Images per day by final status, from the archived events (one row per event).
-- Portable SQL: runs on Athena (Trino) and on the local engine's Athena (DuckDB).
WITH per_image AS (
    SELECT
        image_id,
        MIN(dt) AS dt,
        MAX(CASE WHEN type = 'ImageRejected' THEN 1 ELSE 0 END) AS rejected,
        MAX(CASE WHEN type = 'ImageProcessingFailed' THEN 1 ELSE 0 END) AS failed,
        COUNT(DISTINCT CASE WHEN type IN ('ThumbnailCreated', 'RenditionsCreated', 'ImageAnalyzed') THEN type END)
            AS answers
    FROM pipeline_events
    GROUP BY image_id
)
SELECT
    CAST(dt AS VARCHAR) AS day,
    CASE
        WHEN rejected = 1 THEN 'REJECTED'
        WHEN failed = 1 THEN 'FAILED'
        WHEN answers = 3 THEN 'COMPLETE'
        ELSE 'PROCESSING'
    END AS status,
    COUNT(*) AS images
FROM per_image
GROUP BY 1, 2
ORDER BY 1, 2
