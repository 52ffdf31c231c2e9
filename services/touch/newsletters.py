"""Send a newsletter to one account, under the message cap the playbooks share.

Runs inside the caller's transaction; the caller publishes the command before committing (as the
consumer does). The account lock first, as everywhere, so a playbook step deciding for the same
account at the same moment sees this send, and this send sees the playbook's.
"""

from __future__ import annotations

from datetime import datetime

from touchline.shared.messages import Command

from .domain.newsletters import Newsletter, newsletter_command
from .flows import Flows
from .ports import Repository


async def send_newsletter(
    flows: Flows, repo: Repository, newsletter: Newsletter, account_id: str, *, now: datetime
) -> Command | datetime:
    """The command sent, or when the account has room again (the cap is full: nothing is sent)."""
    await repo.lock_account(account_id)
    account = await flows.load(repo, account_id, sends_from=now)
    cap = flows.config.cap
    if cap is not None:
        until = cap.full_until(account.recent_sends(since=now - cap.per), now=now)
        if until is not None:
            return until
    command = newsletter_command(newsletter, account_id, at=now)
    account.record_sends([(command.command_id, now)])
    account.emit([command])
    await flows.write(repo, account.changes())
    return command
