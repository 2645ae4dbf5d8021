-- The pipeline's one latency, upload -> final status (as the tracker announced it with each final
-- status), p50 and p95 in milliseconds, per day the images were created; the trace and the
-- aggregates report the same figure. Edits are not in it (they have statuses of their own).
-- Percentiles by rank (no approx_percentile / quantile: the two engines name those differently).
WITH latest AS (
    SELECT
        image_id,
        latency_ms,
        created_at,
        ROW_NUMBER() OVER (PARTITION BY image_id ORDER BY status_version DESC) AS position
    FROM pipeline_events
    WHERE type = 'ImageStatusChanged'
),
final AS (
    SELECT SUBSTR(CAST(created_at AS VARCHAR), 1, 10) AS day, latency_ms
    FROM latest
    WHERE position = 1 AND latency_ms IS NOT NULL
),
ranked AS (
    SELECT
        day,
        latency_ms,
        ROW_NUMBER() OVER (PARTITION BY day ORDER BY latency_ms) AS position,
        COUNT(*) OVER (PARTITION BY day) AS images
    FROM final
)
SELECT
    day,
    MAX(images) AS images,
    MIN(CASE WHEN position >= CEIL(0.5 * images) THEN latency_ms END) AS p50_ms,
    MIN(CASE WHEN position >= CEIL(0.95 * images) THEN latency_ms END) AS p95_ms,
    MAX(latency_ms) AS max_ms
FROM ranked
GROUP BY 1
ORDER BY 1
