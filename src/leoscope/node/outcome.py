"""What a run's end means: the final status and message for each way a run can end.

Reported statuses and messages (the reference's where it has one, wire contract §5):

    DEPLOYING  "Preparing environment for job execution: pulling image <image>."
    EXECUTING  "Executing job."
    FINISHING  "Performing post-execution tasks: collecting logs."
    FINISHING  "Performing post-execution tasks: uploading artifacts."
    COMPLETE   "Done executing the job."             exit code 0
               "Done executing the job (stopped at the end of its slot)."
    FAILED     "experiment failed: exit code 3"      non-zero exit
               "experiment failed: out of memory ..." the kernel OOM killer hit the limit
               "experiment failed: killed by signal 9 (exit code 137)"
               "pull failed: <the engine's message>"
               "container failed to start: <the engine's message>"
               "invalid experiment config: <field>: <problem>"
               "agent restarted: ..."                 the run could not be picked up again
    ABORTED    "job deleted"                          the job was deleted mid-run
    MISSED     "missed: ..."                          the slot passed while the agent could not run it
"""

from __future__ import annotations

from leoscope.core.model import RunStatus

from .runtime.base import EXIT_CODE_UNKNOWN, ExitInfo
from .seams import Outcome

MSG_DEPLOYING = "Preparing environment for job execution: pulling image {image}."
MSG_EXECUTING = "Executing job."
MSG_COLLECTING = "Performing post-execution tasks: collecting logs."
MSG_UPLOADING = "Performing post-execution tasks: uploading artifacts."
MSG_COMPLETE = "Done executing the job."
MSG_COMPLETE_STOPPED = "Done executing the job (stopped at the end of its slot)."
MSG_JOB_DELETED = "job deleted"


def outcome_of_exit(exit: ExitInfo, *, stopped_by_agent: bool) -> Outcome:
    """The outcome of a container that ended with `exit`.

    A container the agent stopped at the end of its slot completed its time box: COMPLETE,
    whatever signal ended it. Otherwise anything but a clean exit 0 is FAILED, saying why.
    """
    if exit.oom_killed:
        return Outcome(
            RunStatus.FAILED,
            f"experiment failed: out of memory (killed by the kernel at its memory limit, "
            f"exit code {exit.exit_code})",
            exit,
            stopped_by_agent,
        )
    if stopped_by_agent:
        return Outcome(RunStatus.COMPLETE, MSG_COMPLETE_STOPPED, exit, True)
    if exit.exit_code == 0 and not exit.error:
        return Outcome(RunStatus.COMPLETE, MSG_COMPLETE, exit)
    if exit.exit_code == EXIT_CODE_UNKNOWN:
        reason = "exit status unknown" + (f": {exit.error}" if exit.error else "")
    elif exit.exit_code > 128:
        reason = f"killed by signal {exit.exit_code - 128} (exit code {exit.exit_code})"
    else:
        reason = f"exit code {exit.exit_code}"
        if exit.error:
            reason += f": {exit.error}"
    return Outcome(RunStatus.FAILED, f"experiment failed: {reason}", exit)


def failed(message: str) -> Outcome:
    return Outcome(RunStatus.FAILED, message)
