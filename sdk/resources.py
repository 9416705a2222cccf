"""Resources and collections of the gateway, in the manner of docker-py: a collection lists and
gets resources; a resource holds the attributes the gateway sent and ``reload()``\\ s through its
collection. Neither knows a path: the endpoints live in :class:`sdk.client.APIClient`."""

from __future__ import annotations

from typing import Any, ClassVar

from sdk import html
from sdk.client import APIClient


class Resource:
    """One resource: ``attrs`` as the gateway sent them; attribute access reads them."""

    id_attribute: ClassVar[str] = "id"

    def __init__(self, attrs: dict, client: APIClient, collection: Collection):
        self.attrs = attrs
        self.client = client
        self.collection = collection

    @property
    def id(self) -> Any:
        return self.attrs.get(self.id_attribute)

    def reload(self) -> Resource:
        """Fetch the resource again (its status, its results) through its collection."""
        self.attrs = self.collection.get(self.id).attrs
        return self

    def __getattr__(self, name: str) -> Any:
        attrs = self.__dict__.get("attrs", {})
        if name in attrs:
            return attrs[name]
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.id == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id}>"


class ResourceList(list):
    """A list of resources (or plain rows) that shows as a table in notebooks."""

    def __init__(self, items, headers: list[str], row, caption: str = ""):
        super().__init__(items)
        self._table = (headers, row, caption)

    def _repr_html_(self) -> str:
        headers, row, caption = self._table
        return html.table(headers, [row(m) for m in self], caption)


class Collection:
    """The resources of one kind the caller may see; ``default_scenario`` is the workspace's."""

    resource: ClassVar[type[Resource]] = Resource

    def __init__(self, client: APIClient, default_scenario: str | None = None):
        self.client = client
        self.default_scenario = default_scenario

    def get(self, resource_id: Any) -> Resource:
        raise NotImplementedError

    def prepare(self, attrs: dict) -> Resource:
        return self.resource(attrs, self.client, self)
