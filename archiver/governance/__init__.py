"""Records governance: retention dates, holds, disposition, audit chain, fixity."""
