"""Live delivery: the feed poller, the in-process hub, the stream and webhooks.

Every deliverable event is a row of the `events` table, whose `seq` is
assigned while the writer holds the cluster-wide write lock, so seq order is
commit order and a cursor never skips an event that commits later. A poller
per replica reads new rows once (woken by a local commit or PostgreSQL
NOTIFY) and hands them to the hub, which decides per subscriber through the
pure policy and queues them on bounded per-connection queues.
"""
