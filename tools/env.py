"""make local-env: export lines for the local deployment, for a shell to eval.

    eval "$(make -s local-env)"

The engine's endpoint and credentials, the local stack's API URL and key (tools.stack), and the
aggregates' GraphQL URL when the hub's consumers are deployed (tools.hub). It sits above both,
which read stacks for themselves.
"""

import shlex
import sys

from tools.engine import LocalEngine
from tools.hub import stats_api_env
from tools.stack import local_stack


def main() -> None:
    engine = LocalEngine()
    stack = local_stack(engine)
    for name, value in {**engine.client_env(), **stack.client_env(), **stats_api_env(engine)}.items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"local API: {stack.api_url}", file=sys.stderr)
    print(f"on AWS it would be: {stack.outputs['ApiUrl']}", file=sys.stderr)


if __name__ == "__main__":
    main()
