-- Processing latency per day (first to last event of each image), p50 and p95 in milliseconds.
-- Percentiles by rank (no approx_percentile / quantile: the two engines name those differently).
WITH per_image AS (
    SELECT
        image_id,
        MIN(dt) AS dt,
        DATE_DIFF('millisecond', MIN(occurred_at), MAX(occurred_at)) AS latency_ms
    FROM pipeline_events
    WHERE type <> 'ImageProcessingStalled'
    GROUP BY image_id
),
ranked AS (
    SELECT
        dt,
        latency_ms,
        ROW_NUMBER() OVER (PARTITION BY dt ORDER BY latency_ms) AS position,
        COUNT(*) OVER (PARTITION BY dt) AS images
    FROM per_image
)
SELECT
    CAST(dt AS VARCHAR) AS day,
    MAX(images) AS images,
    MIN(CASE WHEN position >= CEIL(0.5 * images) THEN latency_ms END) AS p50_ms,
    MIN(CASE WHEN position >= CEIL(0.95 * images) THEN latency_ms END) AS p95_ms,
    MAX(latency_ms) AS max_ms
FROM ranked
GROUP BY 1
ORDER BY 1
