"""Least privilege per function: what each Lambda of the packaged template may do (docs/deploy.md, "Least privilege").

infra/package.py gives every function's role (Chalice makes one per function) the policy below
and nothing else. Chalice's own policy files (.chalice/policy-<stage>.json) only hold the log
statement: packaging refuses a function this module does not know, and a policy file that grants
more, so a permission is always added here, to the function that needs it.

Who does what:
- APIHandler: every table (reads and conditional writes), the partner plan's id and the keys of
  identities, slot ids, links, offers and cursors (one SSM parameter per purpose), e-mail as
  the configured sender (request acknowledgements, a staff-run draw's offers), and API
  Gateway keys of the partners' usage plan (a separate policy, ApiHandlerPartnerKeysPolicy: the
  plan refers to the API, which refers to this function, so the role itself cannot name it).
- PartnerKey (authorizer): GetItem on the catalog's `partner-key#...` items only.
- StaffAgent, StaffAdmin (authorizers): verify a JWT against the pool's JWKS; no AWS access.
- BookingsStream: read the bookings stream, read sites in the catalog, the links key only (each
  e-mail's link token), send e-mail as the configured sender only (MailFrom),
  and send failed batches' descriptions to its failure queue.
- SendReminders: list sites, query tomorrow's bookings, set `reminded_at` on them.
- PublishSignalMetrics: query the day's `signals#...` items of the audit table (metrics go
  out as EMF log lines: no CloudWatch permission).
- RunDueDraws: the draw's tables (catalog reads; slots, holds, identities, requests, draws
  writes), the offers key (offer tokens and hold ids), the links key (the offer e-mail's link),
  e-mail as the configured sender (offers), and the draw-seed key (Encrypt the next commitment,
  Decrypt a seed when its draw runs): the only function that may open a sealed seed; it also runs
  staff-requested draws for the API. Neither background function can compute an identity key or
  a slot id.
- APIHandler also: Encrypt (never Decrypt) with the draw-seed key, for a commitment made when a
  request is filed, and invoke RunDueDraws for a staff-run draw (it cannot open the seed itself).

moto does not enforce IAM: tests/api/test_function_permissions.py runs each background function
on the local engine, records its AWS calls, and checks each against these statements, so a code
change that needs a new permission fails there, not in production.
"""

TABLES = ("slots", "holds", "bookings", "identities", "catalog", "counters", "audit", "requests", "draws")
READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"]
STREAM = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
FAILURE_QUEUE = "NotificationFailuresQueue"
USAGE_PLAN = "PartnerUsagePlan"
PARTNER_KEYS_POLICY = "ApiHandlerPartnerKeysPolicy"


def _sub(text):
    return {"Fn::Sub": text}


def table_arn(stage, table, suffix=""):
    return _sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/fairslot-{stage}-{table}{suffix}")


def parameter_arn(stage, name):
    return _sub(f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/fairslot/{stage}/{name}")


def _tables(sid, actions, stage, tables, indexes=(), leading_keys=None):
    statement = {
        "Sid": sid, "Effect": "Allow", "Action": list(actions),
        "Resource": [table_arn(stage, t) for t in tables] + [table_arn(stage, t, "/index/*") for t in indexes],
    }
    if leading_keys:
        # Only items whose partition key starts so (the rest of the table stays out of reach).
        statement["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(leading_keys)}}
    return statement


def logs_statement(stage):
    return {
        "Sid": "WriteOwnLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [
            _sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/fairslot-{stage}-*"),
            _sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/fairslot-{stage}-*:*"),
        ],
    }


XRAY = {"Sid": "XRayHasNoResourceLevelPermissions", "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"}


def key_parameter(purpose):
    """The SSM parameter of one purpose's key ring (chalicelib/platform/keys.py), under /fairslot/<stage>/."""
    return f"keys/{purpose}"


def _ssm(stage, *names):
    return {"Sid": "ReadParameters", "Effect": "Allow", "Action": ["ssm:GetParameter"],
            "Resource": [parameter_arn(stage, n) for n in names]}


def _ses_sender():
    """The configured sender only: its address identity, or its domain's (whichever SES verified)."""
    identity = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/"
    return {
        "Sid": "SendAsTheConfiguredSenderOnly", "Effect": "Allow", "Action": ["ses:SendEmail"],
        "Resource": [
            _sub(identity + "${MailFrom}"),
            {"Fn::Sub": [identity + "${MailFromDomain}",
                         {"MailFromDomain": {"Fn::Select": [1, {"Fn::Split": ["@", {"Ref": "MailFrom"}]}]}}]},
        ],
    }


DRAW_SEED_KEY = "DrawSeedKey"
DRAW_FUNCTION = "RunDueDraws"


def _draw_seed(actions):
    return {"Sid": "DrawSeedKey" + "And".join(a.split(":")[1] for a in actions), "Effect": "Allow", "Action": list(actions),
            "Resource": [{"Fn::GetAtt": [DRAW_SEED_KEY, "Arn"]}],
            "Condition": {"ForAllValues:StringLike": {"kms:EncryptionContextKeys": ["fairslot:draw"]}}}


def draw_seed_key_policy(roles):
    """The draw-seed key's own policy (KMS checks it before any IAM policy): administered by the
    account, never used by it; Encrypt for the API and draw functions' roles, Decrypt for the
    draw function's role alone. `roles`: {function: role logical id} (infra/package.py).

    The roles are named by the pattern of the names CloudFormation gives them
    (`<stack>-<role logical id>-<suffix>`, matched with aws:PrincipalArn), not by GetAtt: each
    role's policy names this key, so the key naming the roles back would be a circular
    dependency. A function whose role the template lacks is left out."""
    def arn(*functions):
        return {"ArnLike": {"aws:PrincipalArn": [
            _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-" + roles[f] + "-*")
            for f in functions if f in roles]}}
    admin = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
             "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
             "kms:CancelKeyDeletion"]
    context = {"ForAllValues:StringLike": {"kms:EncryptionContextKeys": ["fairslot:draw"]}}
    account = _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AdministerWithoutUse", "Effect": "Allow", "Principal": {"AWS": account},
         "Action": admin, "Resource": "*"},
        {"Sid": "SealForTheApiAndDrawFunctions", "Effect": "Allow", "Principal": {"AWS": account},
         "Action": ["kms:Encrypt"], "Resource": "*", "Condition": {**context, **arn("APIHandler", DRAW_FUNCTION)}},
        {"Sid": "OpenForTheDrawFunctionOnly", "Effect": "Allow", "Principal": {"AWS": account},
         "Action": ["kms:Decrypt"], "Resource": "*", "Condition": {**context, **arn(DRAW_FUNCTION)}},
    ]}


def function_statements(stage):
    """{function logical id: its statements, beside logs and X-Ray}."""
    return {
        "APIHandler": [
            _tables("ReadWriteFairslotTables", READ + WRITE, stage, TABLES, indexes=("slots", "bookings", "requests")),
            _ssm(stage, *(key_parameter(p) for p in ("identities", "slot-ids", "links", "offers", "cursors", "codes")), "partner-usage-plan-id"),
            _ses_sender(),  # a request's acknowledgement, a staff-run draw's offers
            _draw_seed(["kms:Encrypt"]),  # a commitment made when a request is filed: sealed, never opened here
            {"Sid": "RunStaffDrawsInTheDrawFunction", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
             "Resource": [{"Fn::GetAtt": [DRAW_FUNCTION, "Arn"]}]},
        ],
        "PartnerKey": [
            _tables("ReadPartnerKeyLookupsOnly", ["dynamodb:GetItem"], stage, ["catalog"], leading_keys=["partner-key#*"]),
        ],
        "StaffAgent": [],
        "StaffAdmin": [],
        "BookingsStream": [
            {"Sid": "ReadBookingsStream", "Effect": "Allow", "Action": STREAM,
             "Resource": [table_arn(stage, "bookings", "/stream/*")]},
            _tables("ReadSites", READ, stage, ["catalog"], leading_keys=["site"]),
            _ssm(stage, key_parameter("links")),  # the link token in each e-mail (notify.web_link)
            _ses_sender(),
            {"Sid": "DescribeFailedBatches", "Effect": "Allow", "Action": ["sqs:SendMessage"],
             "Resource": [{"Fn::GetAtt": [FAILURE_QUEUE, "Arn"]}]},
        ],
        "SendReminders": [
            _tables("ReadSites", READ, stage, ["catalog"], leading_keys=["site"]),
            _tables("QueryBookingsOfTheDay", ["dynamodb:Query"], stage, [], indexes=("bookings",)),
            _tables("MarkReminded", ["dynamodb:UpdateItem"], stage, ["bookings"]),
        ],
        "PublishSignalMetrics": [
            _tables("ReadSignalsOnly", ["dynamodb:Query"], stage, ["audit"], leading_keys=["signals#*"]),
        ],
        "RunDueDraws": [
            _tables("ReadCatalog", READ, stage, ["catalog"]),
            _tables("RunDraws", READ + WRITE, stage, ["slots", "holds", "identities", "requests", "draws"],
                    indexes=("slots", "requests")),
            _ssm(stage, key_parameter("offers"), key_parameter("links")),  # offer tokens and hold ids; the offer e-mail's link
            _ses_sender(),  # the draw's offers (draws.send_pending_offers)
            _draw_seed(["kms:Encrypt", "kms:Decrypt"]),  # the next commitment sealed, a seed opened when its draw runs
            # A staff-run draw's audit entry (who, when, why early), in the claim's own transaction.
            _tables("AuditStaffRunDraws", ["dynamodb:PutItem"], stage, ["audit"], leading_keys=["policy#*"]),
        ],
    }


def partner_keys_policy(role):
    """API Gateway key management for the API function, limited to the partners' plan where API
    Gateway's ARNs allow it (a key is created and deleted under /apikeys, which has no plan)."""
    gateway = "arn:${AWS::Partition}:apigateway:${AWS::Region}::"
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "partner-api-keys",
            "Roles": [{"Ref": role}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "CreateAndDeletePartnerApiKeys", "Effect": "Allow", "Action": ["apigateway:POST", "apigateway:DELETE"],
                 "Resource": [_sub(gateway + "/apikeys"), _sub(gateway + "/apikeys/*")]},
                {"Sid": "RegisterKeysInThePartnersPlanOnly", "Effect": "Allow", "Action": ["apigateway:POST", "apigateway:DELETE"],
                 "Resource": [_sub(gateway + "/usageplans/${" + USAGE_PLAN + "}/keys"),
                              _sub(gateway + "/usageplans/${" + USAGE_PLAN + "}/keys/*")]},
            ]},
        },
    }


def policy_document(stage, function):
    statements = function_statements(stage)
    if function not in statements:
        raise KeyError(function)
    return {"Version": "2012-10-17", "Statement": [*statements[function], logs_statement(stage), XRAY]}
