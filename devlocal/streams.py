"""Dev-only (never packaged): the bookings stream, read from the local engine and handed to the
application's stream handler as Lambda would, so notifications run locally as they do in AWS.

`devlocal.stack` starts one poller in the engine's process. It reads the engine's stream through
boto3 `dynamodbstreams` (the API Lambda's event source mapping uses), builds Lambda-shaped events
({"Records": [...]}, one record each, like the handler's batch_size=1) and calls the handler.
A record whose handler raises is retried (with a growing delay) and never skipped before
`max_attempts`, like Lambda retrying a failed batch; later records wait behind it, in order.

moto keeps every stream record forever (`table.stream_shard.items`) and every shard iterator it
ever handed out. Running in the engine's process, the poller trims both once records are
consumed, under the engine's lock, so the engine's memory stays bounded.
"""
import logging
import threading
import time

log = logging.getLogger("fairslot.devlocal.streams")


class _Context:
    """The little of a Lambda context a handler may read."""

    function_name = "fairslot-dev-bookings_stream"
    aws_request_id = "local"
    memory_limit_in_mb = 256

    @staticmethod
    def get_remaining_time_in_millis():
        return 60_000


class BookingsStreamPoller:
    def __init__(self, handler, table_name, endpoint_url=None, region="eu-west-3", interval=0.5,
                 max_attempts=8, trim=True):
        self.handler = handler
        self.table_name = table_name
        self.endpoint_url = endpoint_url
        self.region = region
        self.interval = interval
        self.max_attempts = max_attempts
        self.trim = trim
        self._last_sequence = None  # the last record handled (or given up on)
        self._attempts = 0
        self._retry_at = 0.0
        self._stop = threading.Event()
        self._thread = None
        self._clients = None

    # --- reading the stream ---------------------------------------------------------------------

    def _streams(self):
        if self._clients is None:
            import boto3

            kwargs = {"region_name": self.region, "endpoint_url": self.endpoint_url}
            dynamodb = boto3.client("dynamodb", **kwargs)
            arn = dynamodb.describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
            # Without an engine URL (tests under moto's mock_aws) name the regional endpoint: botocore
            # would pick the account-based one, which moto does not route.
            streams = boto3.client("dynamodbstreams", region_name=self.region,
                                   endpoint_url=self.endpoint_url or f"https://streams.dynamodb.{self.region}.amazonaws.com")
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self._clients = (streams, arn, shard)
        return self._clients

    def _records(self, limit=100):
        streams, arn, shard = self._streams()
        if self._last_sequence is None:
            kwargs = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            kwargs = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._last_sequence}
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **kwargs)["ShardIterator"]
        return arn, streams.get_records(ShardIterator=iterator, Limit=limit)["Records"]

    def _lambda_record(self, arn, record):
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        dynamodb["ApproximateCreationDateTime"] = created.timestamp() if hasattr(created, "timestamp") else (created or time.time())
        return {
            "eventID": record.get("eventID"),
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": dynamodb,
            "eventSourceARN": arn,
        }

    # --- delivering -----------------------------------------------------------------------------

    def poll_once(self):
        """Deliver what the stream holds, in order; stop at a record whose handler fails (it is
        retried on a later call). Returns how many records were handled."""
        if time.monotonic() < self._retry_at:
            return 0
        arn, records = self._records()
        handled = 0
        for record in records:
            sequence = record["dynamodb"]["SequenceNumber"]
            try:
                self.handler({"Records": [self._lambda_record(arn, record)]}, _Context())
            except Exception:  # noqa: BLE001 -- the handler's failure is the retry signal
                self._attempts += 1
                if self._attempts < self.max_attempts:
                    self._retry_at = time.monotonic() + min(30.0, 0.2 * 2 ** self._attempts)
                    log.warning("stream record failed (attempt %d), retrying", self._attempts)
                    break
                log.error("stream record failed %d times, giving up on it", self._attempts)
            self._last_sequence = sequence
            self._attempts, self._retry_at = 0, 0.0
            handled += 1
        if handled and self.trim:
            self._trim_consumed()
        return handled

    def _trim_consumed(self):
        """Drop consumed stream records and stale shard iterators from a moto engine in this
        process (the local stack's, or the tests'); nothing happens against another engine."""
        try:
            from moto.dynamodb.models import dynamodb_backends
            from moto.dynamodbstreams.models import dynamodbstreams_backends

            from devlocal import serial_moto
        except ImportError:
            return
        last = int(self._last_sequence)
        with serial_moto._lock:
            for account in list(dynamodb_backends.keys()):
                backend = dynamodb_backends[account].get(self.region)
                table = backend.tables.get(self.table_name) if backend else None
                shard = getattr(table, "stream_shard", None)
                if shard is None:
                    continue
                consumed = max(0, min(len(shard.items), last - shard.starting_sequence_number + 1))
                if consumed:
                    del shard.items[:consumed]
                    # Sequence numbers stay what they were: moto numbers a record by its position
                    # plus the shard's starting number.
                    shard.starting_sequence_number += consumed
            for account in list(dynamodbstreams_backends.keys()):
                streams = dynamodbstreams_backends[account].get(self.region)
                if streams is not None:
                    streams.shard_iterators.clear()

    def stream_length(self):
        """Records the in-process engine still keeps for the stream (for tests and benchmarks)."""
        from moto.dynamodb.models import dynamodb_backends

        total = 0
        for account in list(dynamodb_backends.keys()):
            backend = dynamodb_backends[account].get(self.region)
            table = backend.tables.get(self.table_name) if backend else None
            if table is not None and table.stream_shard is not None:
                total += len(table.stream_shard.items)
        return total

    # --- background thread ----------------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._run, name="bookings-stream", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 -- e.g. the engine is shutting down; try again
                log.exception("stream poll failed")
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
