"""The documents service's HTTP API, as the web application uses it (httpx, service token).

The web application checks the user's role and establishment before every call; this client only moves
bytes and progress. An unreachable or failing documents service is `DocumentsUnavailable`: the page says
to try again later, nothing else breaks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx2

from .settings import WebSettings


class DocumentsUnavailable(RuntimeError):
    """The documents service did not answer, or answered with an error it should not have."""

    code = "documents_unavailable"


class DocumentNotFound(LookupError):
    code = "unknown_document"


@dataclass(frozen=True)
class Pdf:
    data: bytes
    content_disposition: str
    kind: str
    schooling_id: UUID


class DocumentsClient:
    def __init__(self, settings: WebSettings, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self._client = httpx2.AsyncClient(
            base_url=settings.documents_url.rstrip("/"), timeout=settings.documents_timeout_s, transport=transport,
            headers={"Authorization": f"Bearer {settings.documents_token.get_secret_value()}"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, path: str, **params: Any) -> httpx2.Response:
        try:
            response = await self._client.get(path, params=params or None)
        except httpx2.HTTPError:
            raise DocumentsUnavailable("the documents service did not answer") from None
        if response.status_code == 404:
            raise DocumentNotFound(path)
        if response.status_code >= 400:
            raise DocumentsUnavailable(f"the documents service answered {response.status_code}")
        return response

    async def by_number(self, number: str) -> list[dict[str, Any]]:
        """Every document of the schooling a DA number (of any version) names; [] when none."""
        result: list[dict[str, Any]] = (await self._get("/v1/documents", number=number)).json()
        return result

    async def of_schooling(self, schooling_id: UUID) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await self._get(f"/v1/schoolings/{schooling_id}/documents")).json()
        return result

    async def pdf(self, document_id: UUID, *, audience: str = "school") -> Pdf:
        response = await self._get(f"/v1/documents/{document_id}", audience=audience)
        return Pdf(response.content, response.headers["content-disposition"], response.headers["x-document-kind"],
                   UUID(response.headers["x-schooling-id"]))

    async def start_batch(self, uai: str, school_year: int, class_label: str | None) -> dict[str, Any]:
        try:
            response = await self._client.post("/v1/batches", json={
                "uai": uai, "school_year": school_year, "class_label": class_label})
        except httpx2.HTTPError:
            raise DocumentsUnavailable("the documents service did not answer") from None
        if response.status_code != 202:
            raise DocumentsUnavailable(f"the documents service answered {response.status_code}")
        result: dict[str, Any] = response.json()
        return result

    async def batch(self, batch_id: UUID) -> dict[str, Any]:
        result: dict[str, Any] = (await self._get(f"/v1/batches/{batch_id}")).json()
        return result

    async def batch_file(self, batch_id: UUID, part: str) -> tuple[AsyncIterator[bytes], dict[str, str], Any]:
        """The zip or merged PDF as a stream (an establishment's zip can be large): chunks, headers, closer."""
        request = self._client.build_request("GET", f"/v1/batches/{batch_id}/{part}")
        try:
            response = await self._client.send(request, stream=True)
        except httpx2.HTTPError:
            raise DocumentsUnavailable("the documents service did not answer") from None
        if response.status_code != 200:
            await response.aclose()
            raise DocumentNotFound(part) if response.status_code in (404, 409) else DocumentsUnavailable(
                f"the documents service answered {response.status_code}")
        return response.aiter_bytes(), dict(response.headers), response.aclose
