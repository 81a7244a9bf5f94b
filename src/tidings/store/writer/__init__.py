from tidings.store.writer.core import MessageWriter, WriterStopped

__all__ = ["MessageWriter", "WriterStopped"]
