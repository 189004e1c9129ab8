-- The least a read plus a durable write can cost: a trivial query and a one-column INSERT.
SELECT 1;
INSERT INTO t VALUES (1);
