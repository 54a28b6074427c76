"""What the running kernel allows, asked directly (tests that depend on it skip or adapt)."""
import ctypes
import os

_SYS_IO_URING_SETUP = 425  # x86-64 and arm64 alike (the generic syscall table)


def kernel_allows_io_uring():
    """Whether io_uring_setup succeeds here (containers and hardened kernels refuse it)."""
    params = ctypes.create_string_buffer(120)  # struct io_uring_params, zeroed
    fd = ctypes.CDLL(None, use_errno=True).syscall(_SYS_IO_URING_SETUP, 1, params)
    if fd < 0:
        return False
    os.close(fd)
    return True
