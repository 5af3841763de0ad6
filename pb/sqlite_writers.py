"""SQLite's settings, and the queue its writers wait in.

One SQLite file lets one writer in at a time. Each connection gets the settings pb relies
on (WAL, foreign keys, a busy timeout, full sync), and a transaction that will write
starts as BEGIN IMMEDIATE after taking its turn in a `WriterQueue`. pb.db asks for a
writer's transaction with the execution option `pb_write`.
"""

from sqlalchemy import event
from sqlalchemy.engine import Engine


class WriterQueue:
    """Writers to one SQLite file take turns through an flock on a file beside it.

    SQLite lets one writer in at a time and makes the others poll, sleeping up to
    100 ms between tries; under load that polling, not the work, sets the pace. A
    kernel lock wakes the next writer the moment the last one commits, across threads
    and worker processes alike.
    """

    def __init__(self, database_path: str):
        import threading

        self.path = database_path + ".writers"
        self.held = threading.local()  # a thread already in the queue must not wait on itself

    def acquire(self, connection_record) -> None:
        import fcntl

        if getattr(self.held, "count", 0):
            # A second writer in the same thread: SQLite's own busy timeout then
            # reports the conflict, where waiting here would wait for ever.
            self.held.count += 1
            connection_record.info["pb_writer_lock"] = (self, None)
            return
        handle = open(self.path, "a")  # noqa: SIM115 (closed in release)
        fcntl.flock(handle, fcntl.LOCK_EX)
        self.held.count = 1
        connection_record.info["pb_writer_lock"] = (self, handle)

    @staticmethod
    def release(connection_record) -> None:
        queue, handle = connection_record.info.pop("pb_writer_lock", (None, None))
        if queue is not None:
            queue.held.count -= 1
        if handle is not None:
            handle.close()  # closing the file releases its lock


def configure_sqlite(engine: Engine) -> None:
    database = engine.url.database
    queue = WriterQueue(database) if database and database != ":memory:" else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (the pysqlite driver's own transaction
        # handling is off), so that a transaction covers reads as well as writes.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=FULL")
        # What is deleted is overwritten with zeros, not just marked free (pb.db.scrub_after_commit).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # IMMEDIATE takes the write lock at the start, so two writers queue on the
        # busy timeout instead of one failing when it upgrades a read lock.
        write = conn.get_execution_options().get("pb_write")
        if write and queue is not None:
            queue.acquire(conn.connection._connection_record)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, connection_record):
        # Back in the pool means the transaction has ended (committed or rolled back).
        WriterQueue.release(connection_record)
