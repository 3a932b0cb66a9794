"""archiver: capture government social media into WARC and govern it as public records."""

__version__ = "0.1.0"
