-- Views and macros over the facts, recreated at every start (after any upgrade).

-- Every value ever accepted, one row each (schema.sql says why the tables are two). A value's
-- revision number is its place among its key's submissions (1 for the first), so it is not
-- stored.
CREATE OR REPLACE VIEW observations AS
    SELECT s.ind, h.uid, s.pid, s.disagg, h.value, s.submission, h.source_row, s.source_col
    FROM history h JOIN slabs s ON s.id = h.slab;

CREATE OR REPLACE VIEW current_obs AS
    SELECT o.* FROM observations o
    ANTI JOIN superseded s
        ON s.ind = o.ind AND s.uid = o.uid AND s.pid = o.pid AND s.disagg = o.disagg
       AND s.submission = o.submission;

CREATE OR REPLACE MACRO period_text(pid) AS
    CASE pid % 8
        WHEN 0 THEN printf('%04d-%02d', (pid // 8) // 12, (pid // 8) % 12 + 1)
        WHEN 1 THEN printf('%04d-Q%d', (pid // 8) // 12, (pid // 8) % 12 // 3 + 1)
        WHEN 2 THEN printf('%04d-H%d', (pid // 8) // 12, (pid // 8) % 12 // 6 + 1)
        ELSE printf('%04d', (pid // 8) // 12)
    END;

-- The current values with their codes and texts, for people querying the file.
CREATE OR REPLACE VIEW current_values AS
    SELECT i.code AS indicator, o.uid, period_text(o.pid) AS period, d.text AS disagg, o.value,
           o.submission
    FROM current_obs o
    JOIN indicator_ids i ON i.id = o.ind
    JOIN disaggs d ON d.id = o.disagg;
