"""The tables themselves, for the local engine and tests (in AWS, infra/ owns them)."""
from chalicelib.platform import config
from chalicelib.storage.models import ALL_MODELS, TTL_ATTRIBUTES, Booking


def ensure_tables() -> None:
    """Create missing tables with their TTL (local engine, tests). In AWS, infra/ owns them."""
    import boto3  # cold start: boto3 itself, for table setup on the local engine and in tests only

    settings = config.current()
    client = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint)
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            ttl = TTL_ATTRIBUTES.get(model)
            if ttl:
                client.update_time_to_live(
                    TableName=model.Meta.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl},
                )
            if model is Booking:  # notifications read it (infra/: NEW_AND_OLD_IMAGES too)
                client.update_table(
                    TableName=model.Meta.table_name,
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                )


def bookings_table_name() -> str:
    """The bookings table, whose stream the local stack polls (devlocal/streams.py)."""
    return Booking.Meta.table_name
