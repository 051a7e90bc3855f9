"""The loop of the Python threads that run worker-thread tool handlers (crates/dcc-mcp-py, pool.rs).

The handler is called from this Python frame, never from Rust: while it runs, the thread's stack holds
only C and Python frames, so CPython may end the thread at interpreter exit (it does, with
``pthread_exit``) without anything aborting. Waiting for the next call happens in Rust with the GIL
released; the package's exit hook wakes that wait before the interpreter finalizes.
"""

import logging
import threading


def run(pool):
    while True:
        call = pool.next_call()
        if call is None:
            return
        if pool.need_worker():
            start(pool)
        handler = result = None
        try:
            handler = call.handler
            if call.pass_context:
                result = handler(call.arguments, call.context)
            else:
                result = handler(call.arguments)
        except BaseException as exc:  # noqa: BLE001 - every exception is the tool's error result
            call.fail(exc)
        else:
            call.finish(result)
        del call, handler, result


def start(pool):
    thread = threading.Thread(target=run, args=(pool,), name="dcc-mcp-handler", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # the interpreter is shutting down: the running workers carry on
        pool.worker_failed()


def notify(waiter, callback):
    """The `MainThreadExecutor(on_pending=...)` thread: calls `callback()` each time the queue goes
    from empty to non-empty, until the executor is gone or the interpreter exits."""
    while waiter.wait():
        try:
            callback()
        except Exception:  # noqa: BLE001 - a failing hook must not end the notifications
            logging.getLogger("dcc_mcp_core").exception("the MainThreadExecutor on_pending callback failed")


def start_notifier(waiter, callback):
    thread = threading.Thread(target=notify, args=(waiter, callback), name="dcc-mcp-on-pending", daemon=True)
    thread.start()
