from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class response_state(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUCCESS: _ClassVar[response_state]
    FAILED: _ClassVar[response_state]

class user_roles(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADMIN: _ClassVar[user_roles]
    USER: _ClassVar[user_roles]
    NODE: _ClassVar[user_roles]
    USER_PRIV: _ClassVar[user_roles]
    NODE_PRIV: _ClassVar[user_roles]

class job_type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CRON: _ClassVar[job_type]
    ATQ: _ClassVar[job_type]

class task_type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TYPE_UNUSED: _ClassVar[task_type]
    SERVER_START: _ClassVar[task_type]
    SERVER_STOP: _ClassVar[task_type]

class task_status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATUS_UNUSED: _ClassVar[task_status]
    TASK_SCHEDULED: _ClassVar[task_status]
    TASK_COMPLETE: _ClassVar[task_status]
SUCCESS: response_state
FAILED: response_state
ADMIN: user_roles
USER: user_roles
NODE: user_roles
USER_PRIV: user_roles
NODE_PRIV: user_roles
CRON: job_type
ATQ: job_type
TYPE_UNUSED: task_type
SERVER_START: task_type
SERVER_STOP: task_type
STATUS_UNUSED: task_status
TASK_SCHEDULED: task_status
TASK_COMPLETE: task_status

class blob_settings(_message.Message):
    __slots__ = ("connectionString", "container", "artifactPath")
    CONNECTIONSTRING_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTPATH_FIELD_NUMBER: _ClassVar[int]
    connectionString: str
    container: str
    artifactPath: str
    def __init__(self, connectionString: _Optional[str] = ..., container: _Optional[str] = ..., artifactPath: _Optional[str] = ...) -> None: ...

class datastore_settings(_message.Message):
    __slots__ = ("blob", "store")
    BLOB_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    blob: blob_settings
    store: artifact_store_settings
    def __init__(self, blob: _Optional[_Union[blob_settings, _Mapping]] = ..., store: _Optional[_Union[artifact_store_settings, _Mapping]] = ...) -> None: ...

class artifact_store_settings(_message.Message):
    __slots__ = ("url", "s3_endpoint", "s3_access_key", "s3_secret_key", "s3_region", "url_ttl_secs", "retention_days")
    URL_FIELD_NUMBER: _ClassVar[int]
    S3_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    S3_ACCESS_KEY_FIELD_NUMBER: _ClassVar[int]
    S3_SECRET_KEY_FIELD_NUMBER: _ClassVar[int]
    S3_REGION_FIELD_NUMBER: _ClassVar[int]
    URL_TTL_SECS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_region: str
    url_ttl_secs: int
    retention_days: int
    def __init__(self, url: _Optional[str] = ..., s3_endpoint: _Optional[str] = ..., s3_access_key: _Optional[str] = ..., s3_secret_key: _Optional[str] = ..., s3_region: _Optional[str] = ..., url_ttl_secs: _Optional[int] = ..., retention_days: _Optional[int] = ...) -> None: ...

class weather_api_settings(_message.Message):
    __slots__ = ("apikey",)
    APIKEY_FIELD_NUMBER: _ClassVar[int]
    apikey: str
    def __init__(self, apikey: _Optional[str] = ...) -> None: ...

class settings(_message.Message):
    __slots__ = ("datastore", "weather")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    WEATHER_FIELD_NUMBER: _ClassVar[int]
    datastore: datastore_settings
    weather: weather_api_settings
    def __init__(self, datastore: _Optional[_Union[datastore_settings, _Mapping]] = ..., weather: _Optional[_Union[weather_api_settings, _Mapping]] = ...) -> None: ...

class message_update_global_config(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: settings
    def __init__(self, config: _Optional[_Union[settings, _Mapping]] = ...) -> None: ...

class message_update_global_config_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_get_global_config(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class message_get_global_config_response(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: settings
    def __init__(self, config: _Optional[_Union[settings, _Mapping]] = ...) -> None: ...

class message_heartbeat(_message.Message):
    __slots__ = ("nodeid",)
    NODEID_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    def __init__(self, nodeid: _Optional[str] = ...) -> None: ...

class message_heartbeat_response(_message.Message):
    __slots__ = ("received",)
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    received: bool
    def __init__(self, received: _Optional[bool] = ...) -> None: ...

class message_register_user(_message.Message):
    __slots__ = ("id", "name", "role", "team")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: user_roles
    team: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[user_roles, str]] = ..., team: _Optional[str] = ...) -> None: ...

class message_register_user_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_get_user(_message.Message):
    __slots__ = ("userid",)
    USERID_FIELD_NUMBER: _ClassVar[int]
    userid: str
    def __init__(self, userid: _Optional[str] = ...) -> None: ...

class message_get_user_response(_message.Message):
    __slots__ = ("exists", "id", "name", "role", "team")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    id: str
    name: str
    role: user_roles
    team: str
    def __init__(self, exists: _Optional[bool] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[user_roles, str]] = ..., team: _Optional[str] = ...) -> None: ...

class message_modify_user(_message.Message):
    __slots__ = ("id", "name", "role", "team")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: user_roles
    team: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[user_roles, str]] = ..., team: _Optional[str] = ...) -> None: ...

class message_modify_user_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_delete_user(_message.Message):
    __slots__ = ("userid",)
    USERID_FIELD_NUMBER: _ClassVar[int]
    userid: str
    def __init__(self, userid: _Optional[str] = ...) -> None: ...

class message_delete_user_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_get_users(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class user_record(_message.Message):
    __slots__ = ("id", "name", "role", "team")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: user_roles
    team: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[user_roles, str]] = ..., team: _Optional[str] = ...) -> None: ...

class message_get_users_response(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[user_record]
    def __init__(self, users: _Optional[_Iterable[_Union[user_record, _Mapping]]] = ...) -> None: ...

class message_whoami(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class message_whoami_response(_message.Message):
    __slots__ = ("userid", "role", "name", "team")
    USERID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    userid: str
    role: user_roles
    name: str
    team: str
    def __init__(self, userid: _Optional[str] = ..., role: _Optional[_Union[user_roles, str]] = ..., name: _Optional[str] = ..., team: _Optional[str] = ...) -> None: ...

class job_params(_message.Message):
    __slots__ = ("mode", "deploy", "execute", "finish")
    MODE_FIELD_NUMBER: _ClassVar[int]
    DEPLOY_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    mode: str
    deploy: str
    execute: str
    finish: str
    def __init__(self, mode: _Optional[str] = ..., deploy: _Optional[str] = ..., execute: _Optional[str] = ..., finish: _Optional[str] = ...) -> None: ...

class job_schedule_cron(_message.Message):
    __slots__ = ("minute", "hour", "day_of_month", "month", "day_of_week")
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    minute: str
    hour: str
    day_of_month: str
    month: str
    day_of_week: str
    def __init__(self, minute: _Optional[str] = ..., hour: _Optional[str] = ..., day_of_month: _Optional[str] = ..., month: _Optional[str] = ..., day_of_week: _Optional[str] = ...) -> None: ...

class job(_message.Message):
    __slots__ = ("id", "nodeid", "type", "params", "schedule", "start_date", "end_date", "length_secs", "overhead", "server", "trigger", "userid", "config", "timezone", "trigger_wait_secs")
    ID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_SECS_FIELD_NUMBER: _ClassVar[int]
    OVERHEAD_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    USERID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WAIT_SECS_FIELD_NUMBER: _ClassVar[int]
    id: str
    nodeid: str
    type: job_type
    params: job_params
    schedule: str
    start_date: str
    end_date: str
    length_secs: int
    overhead: bool
    server: str
    trigger: str
    userid: str
    config: str
    timezone: str
    trigger_wait_secs: int
    def __init__(self, id: _Optional[str] = ..., nodeid: _Optional[str] = ..., type: _Optional[_Union[job_type, str]] = ..., params: _Optional[_Union[job_params, _Mapping]] = ..., schedule: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., length_secs: _Optional[int] = ..., overhead: _Optional[bool] = ..., server: _Optional[str] = ..., trigger: _Optional[str] = ..., userid: _Optional[str] = ..., config: _Optional[str] = ..., timezone: _Optional[str] = ..., trigger_wait_secs: _Optional[int] = ...) -> None: ...

class message_schedule_job(_message.Message):
    __slots__ = ("id", "nodeid", "type", "params", "schedule", "start_date", "end_date", "length_secs", "overhead", "server", "trigger", "userid", "config", "timezone", "trigger_wait_secs", "dry_run")
    ID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_SECS_FIELD_NUMBER: _ClassVar[int]
    OVERHEAD_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    USERID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WAIT_SECS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    id: str
    nodeid: str
    type: job_type
    params: job_params
    schedule: str
    start_date: str
    end_date: str
    length_secs: int
    overhead: bool
    server: str
    trigger: str
    userid: str
    config: str
    timezone: str
    trigger_wait_secs: int
    dry_run: bool
    def __init__(self, id: _Optional[str] = ..., nodeid: _Optional[str] = ..., type: _Optional[_Union[job_type, str]] = ..., params: _Optional[_Union[job_params, _Mapping]] = ..., schedule: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., length_secs: _Optional[int] = ..., overhead: _Optional[bool] = ..., server: _Optional[str] = ..., trigger: _Optional[str] = ..., userid: _Optional[str] = ..., config: _Optional[str] = ..., timezone: _Optional[str] = ..., trigger_wait_secs: _Optional[int] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class schedule_conflict(_message.Message):
    __slots__ = ("jobid", "nodeid", "start", "end")
    JOBID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    jobid: str
    nodeid: str
    start: str
    end: str
    def __init__(self, jobid: _Optional[str] = ..., nodeid: _Optional[str] = ..., start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class message_schedule_job_response(_message.Message):
    __slots__ = ("state", "message", "conflicts", "warnings", "next_runs", "field")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RUNS_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    conflicts: _containers.RepeatedCompositeFieldContainer[schedule_conflict]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    next_runs: _containers.RepeatedScalarFieldContainer[str]
    field: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ..., conflicts: _Optional[_Iterable[_Union[schedule_conflict, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., next_runs: _Optional[_Iterable[str]] = ..., field: _Optional[str] = ...) -> None: ...

class message_get_job_by_id(_message.Message):
    __slots__ = ("jobid",)
    JOBID_FIELD_NUMBER: _ClassVar[int]
    jobid: str
    def __init__(self, jobid: _Optional[str] = ...) -> None: ...

class message_get_job_by_id_response(_message.Message):
    __slots__ = ("exists", "id", "nodeid", "type", "params", "schedule", "userid", "trigger", "config", "server", "overhead", "start_date", "end_date", "length_secs", "timezone", "trigger_wait_secs")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    USERID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    OVERHEAD_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_SECS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WAIT_SECS_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    id: str
    nodeid: str
    type: job_type
    params: job_params
    schedule: str
    userid: str
    trigger: str
    config: str
    server: str
    overhead: bool
    start_date: str
    end_date: str
    length_secs: int
    timezone: str
    trigger_wait_secs: int
    def __init__(self, exists: _Optional[bool] = ..., id: _Optional[str] = ..., nodeid: _Optional[str] = ..., type: _Optional[_Union[job_type, str]] = ..., params: _Optional[_Union[job_params, _Mapping]] = ..., schedule: _Optional[str] = ..., userid: _Optional[str] = ..., trigger: _Optional[str] = ..., config: _Optional[str] = ..., server: _Optional[str] = ..., overhead: _Optional[bool] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., length_secs: _Optional[int] = ..., timezone: _Optional[str] = ..., trigger_wait_secs: _Optional[int] = ...) -> None: ...

class message_get_jobs_by_userid(_message.Message):
    __slots__ = ("userid",)
    USERID_FIELD_NUMBER: _ClassVar[int]
    userid: str
    def __init__(self, userid: _Optional[str] = ...) -> None: ...

class message_get_jobs_by_userid_response(_message.Message):
    __slots__ = ("exists", "message", "jobs")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    message: str
    jobs: _containers.RepeatedCompositeFieldContainer[job]
    def __init__(self, exists: _Optional[bool] = ..., message: _Optional[str] = ..., jobs: _Optional[_Iterable[_Union[job, _Mapping]]] = ...) -> None: ...

class message_get_jobs_by_nodeid(_message.Message):
    __slots__ = ("nodeid", "include_expired")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    include_expired: bool
    def __init__(self, nodeid: _Optional[str] = ..., include_expired: _Optional[bool] = ...) -> None: ...

class message_get_jobs_by_nodeid_response(_message.Message):
    __slots__ = ("exists", "jobs")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    jobs: _containers.RepeatedCompositeFieldContainer[job]
    def __init__(self, exists: _Optional[bool] = ..., jobs: _Optional[_Iterable[_Union[job, _Mapping]]] = ...) -> None: ...

class message_reschedule_job(_message.Message):
    __slots__ = ("jobid", "starttime", "endtime")
    JOBID_FIELD_NUMBER: _ClassVar[int]
    STARTTIME_FIELD_NUMBER: _ClassVar[int]
    ENDTIME_FIELD_NUMBER: _ClassVar[int]
    jobid: str
    starttime: str
    endtime: str
    def __init__(self, jobid: _Optional[str] = ..., starttime: _Optional[str] = ..., endtime: _Optional[str] = ...) -> None: ...

class message_reschedule_job_response(_message.Message):
    __slots__ = ("rescheduled", "message", "next_slot")
    RESCHEDULED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NEXT_SLOT_FIELD_NUMBER: _ClassVar[int]
    rescheduled: bool
    message: str
    next_slot: str
    def __init__(self, rescheduled: _Optional[bool] = ..., message: _Optional[str] = ..., next_slot: _Optional[str] = ...) -> None: ...

class message_modify_job(_message.Message):
    __slots__ = ("jobid", "schedule", "start_date", "end_date", "length_secs", "trigger", "config", "timezone", "overhead", "trigger_wait_secs")
    JOBID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_SECS_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    OVERHEAD_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_WAIT_SECS_FIELD_NUMBER: _ClassVar[int]
    jobid: str
    schedule: str
    start_date: str
    end_date: str
    length_secs: int
    trigger: str
    config: str
    timezone: str
    overhead: bool
    trigger_wait_secs: int
    def __init__(self, jobid: _Optional[str] = ..., schedule: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., length_secs: _Optional[int] = ..., trigger: _Optional[str] = ..., config: _Optional[str] = ..., timezone: _Optional[str] = ..., overhead: _Optional[bool] = ..., trigger_wait_secs: _Optional[int] = ...) -> None: ...

class message_modify_job_response(_message.Message):
    __slots__ = ("state", "message", "conflicts", "field")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    conflicts: _containers.RepeatedCompositeFieldContainer[schedule_conflict]
    field: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ..., conflicts: _Optional[_Iterable[_Union[schedule_conflict, _Mapping]]] = ..., field: _Optional[str] = ...) -> None: ...

class message_delete_job_by_id(_message.Message):
    __slots__ = ("jobid",)
    JOBID_FIELD_NUMBER: _ClassVar[int]
    jobid: str
    def __init__(self, jobid: _Optional[str] = ...) -> None: ...

class message_delete_job_by_id_response(_message.Message):
    __slots__ = ("exists", "message")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    message: str
    def __init__(self, exists: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class message_delete_jobs_by_nodeid(_message.Message):
    __slots__ = ("nodeid",)
    NODEID_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    def __init__(self, nodeid: _Optional[str] = ...) -> None: ...

class message_delete_jobs_by_nodeid_response(_message.Message):
    __slots__ = ("num_deleted", "message")
    NUM_DELETED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    num_deleted: int
    message: str
    def __init__(self, num_deleted: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class run_instance(_message.Message):
    __slots__ = ("runid", "jobid", "nodeid", "userid", "start_time", "end_time", "last_updated", "blob_url", "status", "status_message", "archive_sha256", "archive_size", "seq", "blob_name", "trigger_values")
    RUNID_FIELD_NUMBER: _ClassVar[int]
    JOBID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    USERID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_UPDATED_FIELD_NUMBER: _ClassVar[int]
    BLOB_URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_SHA256_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    BLOB_NAME_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_VALUES_FIELD_NUMBER: _ClassVar[int]
    runid: str
    jobid: str
    nodeid: str
    userid: str
    start_time: str
    end_time: str
    last_updated: str
    blob_url: str
    status: str
    status_message: str
    archive_sha256: str
    archive_size: int
    seq: int
    blob_name: str
    trigger_values: str
    def __init__(self, runid: _Optional[str] = ..., jobid: _Optional[str] = ..., nodeid: _Optional[str] = ..., userid: _Optional[str] = ..., start_time: _Optional[str] = ..., end_time: _Optional[str] = ..., last_updated: _Optional[str] = ..., blob_url: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., archive_sha256: _Optional[str] = ..., archive_size: _Optional[int] = ..., seq: _Optional[int] = ..., blob_name: _Optional[str] = ..., trigger_values: _Optional[str] = ...) -> None: ...

class message_update_run(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: run_instance
    def __init__(self, run: _Optional[_Union[run_instance, _Mapping]] = ...) -> None: ...

class message_update_run_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_time_range(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class message_get_runs(_message.Message):
    __slots__ = ("runid", "jobid", "nodeid", "userid", "time_range", "limit", "status")
    RUNID_FIELD_NUMBER: _ClassVar[int]
    JOBID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    USERID_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    runid: str
    jobid: str
    nodeid: str
    userid: str
    time_range: message_time_range
    limit: int
    status: str
    def __init__(self, runid: _Optional[str] = ..., jobid: _Optional[str] = ..., nodeid: _Optional[str] = ..., userid: _Optional[str] = ..., time_range: _Optional[_Union[message_time_range, _Mapping]] = ..., limit: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class message_get_runs_response(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[run_instance]
    def __init__(self, runs: _Optional[_Iterable[_Union[run_instance, _Mapping]]] = ...) -> None: ...

class run_event(_message.Message):
    __slots__ = ("title", "id", "start", "end", "type", "params", "schedule", "length", "overhead", "trigger", "server", "nodeid")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OVERHEAD_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    title: str
    id: int
    start: str
    end: str
    type: str
    params: job_params
    schedule: str
    length: int
    overhead: bool
    trigger: str
    server: str
    nodeid: str
    def __init__(self, title: _Optional[str] = ..., id: _Optional[int] = ..., start: _Optional[str] = ..., end: _Optional[str] = ..., type: _Optional[str] = ..., params: _Optional[_Union[job_params, _Mapping]] = ..., schedule: _Optional[str] = ..., length: _Optional[int] = ..., overhead: _Optional[bool] = ..., trigger: _Optional[str] = ..., server: _Optional[str] = ..., nodeid: _Optional[str] = ...) -> None: ...

class message_get_scheduled_runs(_message.Message):
    __slots__ = ("nodeid", "start", "end")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    start: str
    end: str
    def __init__(self, nodeid: _Optional[str] = ..., start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class message_get_scheduled_runs_response(_message.Message):
    __slots__ = ("state", "message", "events", "truncated")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    events: _containers.RepeatedCompositeFieldContainer[run_event]
    truncated: bool
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ..., events: _Optional[_Iterable[_Union[run_event, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class _node(_message.Message):
    __slots__ = ("nodeid", "name", "description", "last_active", "coords", "location", "provider", "jobs", "scavenger_mode_active", "public_ip", "altitude_m", "min_elevation_deg", "quiet_hours")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    COORDS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    SCAVENGER_MODE_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_IP_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    MIN_ELEVATION_DEG_FIELD_NUMBER: _ClassVar[int]
    QUIET_HOURS_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    name: str
    description: str
    last_active: str
    coords: str
    location: str
    provider: str
    jobs: str
    scavenger_mode_active: bool
    public_ip: str
    altitude_m: float
    min_elevation_deg: float
    quiet_hours: str
    def __init__(self, nodeid: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., last_active: _Optional[str] = ..., coords: _Optional[str] = ..., location: _Optional[str] = ..., provider: _Optional[str] = ..., jobs: _Optional[str] = ..., scavenger_mode_active: _Optional[bool] = ..., public_ip: _Optional[str] = ..., altitude_m: _Optional[float] = ..., min_elevation_deg: _Optional[float] = ..., quiet_hours: _Optional[str] = ...) -> None: ...

class message_register_node(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: _node
    def __init__(self, node: _Optional[_Union[_node, _Mapping]] = ...) -> None: ...

class message_register_node_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_update_node(_message.Message):
    __slots__ = ("nodeid", "name", "description", "last_active", "coords", "location", "provider", "public_ip", "altitude_m", "min_elevation_deg", "quiet_hours")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    COORDS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_IP_FIELD_NUMBER: _ClassVar[int]
    ALTITUDE_M_FIELD_NUMBER: _ClassVar[int]
    MIN_ELEVATION_DEG_FIELD_NUMBER: _ClassVar[int]
    QUIET_HOURS_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    name: str
    description: str
    last_active: str
    coords: str
    location: str
    provider: str
    public_ip: str
    altitude_m: float
    min_elevation_deg: float
    quiet_hours: str
    def __init__(self, nodeid: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., last_active: _Optional[str] = ..., coords: _Optional[str] = ..., location: _Optional[str] = ..., provider: _Optional[str] = ..., public_ip: _Optional[str] = ..., altitude_m: _Optional[float] = ..., min_elevation_deg: _Optional[float] = ..., quiet_hours: _Optional[str] = ...) -> None: ...

class message_update_node_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_get_nodes(_message.Message):
    __slots__ = ("nodeid", "location", "name", "provider", "active", "activeThres")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    ACTIVETHRES_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    location: str
    name: str
    provider: str
    active: bool
    activeThres: int
    def __init__(self, nodeid: _Optional[str] = ..., location: _Optional[str] = ..., name: _Optional[str] = ..., provider: _Optional[str] = ..., active: _Optional[bool] = ..., activeThres: _Optional[int] = ...) -> None: ...

class message_get_nodes_response(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_node]
    def __init__(self, nodes: _Optional[_Iterable[_Union[_node, _Mapping]]] = ...) -> None: ...

class message_delete_node(_message.Message):
    __slots__ = ("nodeid", "deleteJobs")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    DELETEJOBS_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    deleteJobs: bool
    def __init__(self, nodeid: _Optional[str] = ..., deleteJobs: _Optional[bool] = ...) -> None: ...

class message_delete_node_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_get_scavenger_status(_message.Message):
    __slots__ = ("nodeid",)
    NODEID_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    def __init__(self, nodeid: _Optional[str] = ...) -> None: ...

class message_get_scavenger_status_response(_message.Message):
    __slots__ = ("found", "scavenger_mode_active", "node_exists")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SCAVENGER_MODE_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    NODE_EXISTS_FIELD_NUMBER: _ClassVar[int]
    found: bool
    scavenger_mode_active: bool
    node_exists: bool
    def __init__(self, found: _Optional[bool] = ..., scavenger_mode_active: _Optional[bool] = ..., node_exists: _Optional[bool] = ...) -> None: ...

class message_set_scavenger_status(_message.Message):
    __slots__ = ("nodeid", "scavenger_mode_active")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    SCAVENGER_MODE_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    scavenger_mode_active: bool
    def __init__(self, nodeid: _Optional[str] = ..., scavenger_mode_active: _Optional[bool] = ...) -> None: ...

class message_set_scavenger_status_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class _task(_message.Message):
    __slots__ = ("type", "taskid", "runid", "jobid", "nodeid", "status", "ttl_secs")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TASKID_FIELD_NUMBER: _ClassVar[int]
    RUNID_FIELD_NUMBER: _ClassVar[int]
    JOBID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TTL_SECS_FIELD_NUMBER: _ClassVar[int]
    type: task_type
    taskid: str
    runid: str
    jobid: str
    nodeid: str
    status: task_status
    ttl_secs: int
    def __init__(self, type: _Optional[_Union[task_type, str]] = ..., taskid: _Optional[str] = ..., runid: _Optional[str] = ..., jobid: _Optional[str] = ..., nodeid: _Optional[str] = ..., status: _Optional[_Union[task_status, str]] = ..., ttl_secs: _Optional[int] = ...) -> None: ...

class message_schedule_task(_message.Message):
    __slots__ = ("task",)
    TASK_FIELD_NUMBER: _ClassVar[int]
    task: _task
    def __init__(self, task: _Optional[_Union[_task, _Mapping]] = ...) -> None: ...

class message_schedule_task_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_get_tasks(_message.Message):
    __slots__ = ("type", "taskid", "runid", "jobid", "nodeid", "status")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TASKID_FIELD_NUMBER: _ClassVar[int]
    RUNID_FIELD_NUMBER: _ClassVar[int]
    JOBID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    type: task_type
    taskid: str
    runid: str
    jobid: str
    nodeid: str
    status: task_status
    def __init__(self, type: _Optional[_Union[task_type, str]] = ..., taskid: _Optional[str] = ..., runid: _Optional[str] = ..., jobid: _Optional[str] = ..., nodeid: _Optional[str] = ..., status: _Optional[_Union[task_status, str]] = ...) -> None: ...

class message_get_tasks_response(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_task]
    def __init__(self, tasks: _Optional[_Iterable[_Union[_task, _Mapping]]] = ...) -> None: ...

class message_update_task(_message.Message):
    __slots__ = ("taskid", "status")
    TASKID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    taskid: str
    status: task_status
    def __init__(self, taskid: _Optional[str] = ..., status: _Optional[_Union[task_status, str]] = ...) -> None: ...

class message_update_task_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_kernel_access(_message.Message):
    __slots__ = ("userid",)
    USERID_FIELD_NUMBER: _ClassVar[int]
    userid: str
    def __init__(self, userid: _Optional[str] = ...) -> None: ...

class message_kernel_access_response(_message.Message):
    __slots__ = ("state", "message")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ...) -> None: ...

class message_watch_node(_message.Message):
    __slots__ = ("nodeid",)
    NODEID_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    def __init__(self, nodeid: _Optional[str] = ...) -> None: ...

class message_node_event(_message.Message):
    __slots__ = ("kind", "nodeid", "jobid", "taskid", "scavenger_mode_active", "seq")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    JOBID_FIELD_NUMBER: _ClassVar[int]
    TASKID_FIELD_NUMBER: _ClassVar[int]
    SCAVENGER_MODE_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    kind: str
    nodeid: str
    jobid: str
    taskid: str
    scavenger_mode_active: bool
    seq: int
    def __init__(self, kind: _Optional[str] = ..., nodeid: _Optional[str] = ..., jobid: _Optional[str] = ..., taskid: _Optional[str] = ..., scavenger_mode_active: _Optional[bool] = ..., seq: _Optional[int] = ...) -> None: ...

class message_find_free_slot(_message.Message):
    __slots__ = ("nodeids", "location", "provider", "length_secs", "not_before", "not_after")
    NODEIDS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    LENGTH_SECS_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    nodeids: _containers.RepeatedScalarFieldContainer[str]
    location: str
    provider: str
    length_secs: int
    not_before: str
    not_after: str
    def __init__(self, nodeids: _Optional[_Iterable[str]] = ..., location: _Optional[str] = ..., provider: _Optional[str] = ..., length_secs: _Optional[int] = ..., not_before: _Optional[str] = ..., not_after: _Optional[str] = ...) -> None: ...

class free_slot(_message.Message):
    __slots__ = ("nodeid", "found", "start", "end")
    NODEID_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    nodeid: str
    found: bool
    start: str
    end: str
    def __init__(self, nodeid: _Optional[str] = ..., found: _Optional[bool] = ..., start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class message_find_free_slot_response(_message.Message):
    __slots__ = ("state", "message", "slots", "field")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    slots: _containers.RepeatedCompositeFieldContainer[free_slot]
    field: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ..., slots: _Optional[_Iterable[_Union[free_slot, _Mapping]]] = ..., field: _Optional[str] = ...) -> None: ...

class message_get_upload_url(_message.Message):
    __slots__ = ("runid", "blob_name", "sha256", "size", "upload_id")
    RUNID_FIELD_NUMBER: _ClassVar[int]
    BLOB_NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    runid: str
    blob_name: str
    sha256: str
    size: int
    upload_id: str
    def __init__(self, runid: _Optional[str] = ..., blob_name: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., upload_id: _Optional[str] = ...) -> None: ...

class message_get_download_url(_message.Message):
    __slots__ = ("runid",)
    RUNID_FIELD_NUMBER: _ClassVar[int]
    runid: str
    def __init__(self, runid: _Optional[str] = ...) -> None: ...

class message_signed_url_response(_message.Message):
    __slots__ = ("state", "message", "url", "expires_at", "backend", "blob_name", "sha256", "size", "ttl_secs", "operation", "part_size", "upload_id", "part_urls", "list_parts_url", "complete_url")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    BLOB_NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECS_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PART_SIZE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    PART_URLS_FIELD_NUMBER: _ClassVar[int]
    LIST_PARTS_URL_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_URL_FIELD_NUMBER: _ClassVar[int]
    state: response_state
    message: str
    url: str
    expires_at: str
    backend: str
    blob_name: str
    sha256: str
    size: int
    ttl_secs: int
    operation: str
    part_size: int
    upload_id: str
    part_urls: _containers.RepeatedScalarFieldContainer[str]
    list_parts_url: str
    complete_url: str
    def __init__(self, state: _Optional[_Union[response_state, str]] = ..., message: _Optional[str] = ..., url: _Optional[str] = ..., expires_at: _Optional[str] = ..., backend: _Optional[str] = ..., blob_name: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., ttl_secs: _Optional[int] = ..., operation: _Optional[str] = ..., part_size: _Optional[int] = ..., upload_id: _Optional[str] = ..., part_urls: _Optional[_Iterable[str]] = ..., list_parts_url: _Optional[str] = ..., complete_url: _Optional[str] = ...) -> None: ...
