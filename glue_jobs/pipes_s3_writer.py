"""A prompt S3 message writer for Glue scripts; shipped to Glue through extra_py_files.

dagster-pipes' PipesS3MessageWriter uploads from a loop that sleeps a whole second per turn and
compares whole seconds, so chunks leave every 1 to 2 s whatever the interval, and closing Pipes
waits up to 2 s for the last one. This channel uploads every ``interval`` seconds (fractions
allowed) and at once when Pipes closes. Same chunk format, so PipesS3MessageReader reads it.

Runs on Glue's Python (3.9 and later): no newer syntax.
"""

import json
from io import StringIO

from dagster_pipes import PipesS3MessageWriter, PipesS3MessageWriterChannel


class PromptS3MessageWriterChannel(PipesS3MessageWriterChannel):
    def _upload_loop(self, is_session_closed):
        while True:
            closing = is_session_closed.wait(self._interval)
            payload = "\n".join(json.dumps(message) for message in self.flush_messages())
            if payload:
                self.upload_messages_chunk(StringIO(payload), self._counter)
                self._counter += 1
            if closing:
                return


class PromptS3MessageWriter(PipesS3MessageWriter):
    def make_channel(self, params):
        return PromptS3MessageWriterChannel(
            client=self._client,
            bucket=params["bucket"],
            key_prefix=params.get("key_prefix"),
            interval=self.interval,
        )
