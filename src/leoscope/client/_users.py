"""Users, identity, kernel-service access and the global config."""

from __future__ import annotations

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.model import GlobalConfig, Role, User

from ._base import Base
from ._convert import global_config_from_pb, global_config_to_pb, token_from_message
from ._convert import user_from_whoami as _user_from_whoami
from ._errors import Subject
from ._results import KernelAccess, RegisteredUser


class UsersAPI(Base):
    def whoami(self) -> User:
        """The authenticated caller (checks the credentials; any role may call it)."""
        return _user_from_whoami(self._read("whoami", pb.message_whoami()))

    def register_user(
        self, userid: str, *, name: str = "", role: Role = Role.USER, team: str = ""
    ) -> RegisteredUser:
        """Create a user (admins only). The token in the result is shown only this once.

        Raises Conflict if the id is taken, InvalidInput for a bad id, PermissionDenied.
        """
        request = pb.message_register_user(
            id=userid, name=name, role=pb.user_roles.Value(role.name), team=team
        )
        response = self._write("register_user", request, Subject("user", userid))
        user = User(id=userid, name=name, role=role, team=team)
        return RegisteredUser(user, token_from_message(response.message))

    def get_user(self, userid: str) -> User:
        """A user (admins: anyone; others: themselves). Raises NotFound."""
        response = self._read(
            "get_user", pb.message_get_user(userid=userid), Subject("user", userid)
        )
        return convert.user_from_pb(response)

    def list_users(self) -> list[User]:
        """Every user, nodes included (admins only)."""
        response = self._read("get_users", pb.message_get_users())
        return [convert.user_from_pb(u) for u in response.users]

    def update_user(
        self,
        userid: str,
        *,
        name: str | None = None,
        role: Role | None = None,
        team: str | None = None,
    ) -> User:
        """Change the given fields of a user (admins only); returns the updated user.

        The wire call replaces name, role and team together, so this reads the user first and
        sends the merged record (read, then one write; not atomic against a concurrent edit).
        """
        current = self.get_user(userid)
        updated = User(
            id=userid,
            name=current.name if name is None else name,
            role=current.role if role is None else role,
            team=current.team if team is None else team,
        )
        request = pb.message_modify_user(
            id=userid,
            name=updated.name,
            role=pb.user_roles.Value(updated.role.name),
            team=updated.team,
        )
        self._write("modify_user", request, Subject("user", userid))
        return updated

    def delete_user(self, userid: str) -> None:
        """Delete a user and revoke its token (admins only; nodes go through delete_node)."""
        self._write("delete_user", pb.message_delete_user(userid=userid), Subject("user", userid))

    def kernel_access(self, userid: str) -> KernelAccess:
        """Whether `userid` may use kernel services (callers: nodes and admins)."""
        response = self._read(
            "kernel_access", pb.message_kernel_access(userid=userid), Subject("user", userid)
        )
        return KernelAccess(userid, response.state == pb.SUCCESS, response.message)

    def get_global_config(self) -> GlobalConfig:
        """The global config. Admins and nodes see secrets; users get them masked.

        Raises NotFound when no config has been set yet.
        """
        response = self._read(
            "get_global_config", pb.message_get_global_config(), Subject("config", "global")
        )
        return global_config_from_pb(response.config)

    def set_global_config(self, config: GlobalConfig) -> None:
        """Store the global config (admins only). Each top-level group present in `config`
        (the datastore settings, the weather key) replaces the stored group wholesale."""
        request = pb.message_update_global_config(config=global_config_to_pb(config))
        self._write("update_global_config", request, Subject("config", "global"))
