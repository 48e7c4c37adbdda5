"""Numbers of the contract (SPEC.md §2, §3.3, §7)."""

import re

#: Largest bundle archive (gzip'd tar) anyone sends or accepts: 50 MB.
MAX_ARCHIVE_BYTES = 52_428_800
#: Largest total of unpacked file sizes a reader accepts: 256 MiB.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
#: Largest `manifest.json` a reader parses (tool schemas included).
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
#: Most files and tools one bundle may list; an archive holds at most the files plus its manifest.
MAX_BUNDLE_FILES = 10_000
MAX_BUNDLE_TOOLS = 1_000
#: Largest tar extension header (PAX, GNU long name) a reader takes in while streaming.
MAX_TAR_HEADER_BYTES = 1024 * 1024
#: Tool names: a letter, then up to 63 letters, digits, `_` or `-`.
TOOL_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$"
TOOL_NAME_RE = re.compile(TOOL_NAME_PATTERN)
#: Bundle names follow npm's package-name rules closely enough to be safe in paths and URLs.
BUNDLE_NAME_RE = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]{0,213}$")
DEFAULT_TOOL_TIMEOUT_MS = 30_000
#: Largest WebSocket frame either end accepts; bigger ones close the link with 4000.
MAX_FRAME_BYTES = 16 * 1024 * 1024
#: Largest body of `POST /api/tools/{tool}/call`: the arguments must fit in one frame with its envelope.
MAX_CALL_BODY_BYTES = MAX_FRAME_BYTES - 64 * 1024
#: A failed call's message and `details` as sent on, at most (longer ones are cut, with a marker).
MAX_ERROR_MESSAGE_CHARS = 4096
MAX_ERROR_DETAILS_BYTES = 64 * 1024
#: Manifest schema this code writes and understands.
MANIFEST_SCHEMA_VERSION = 1
