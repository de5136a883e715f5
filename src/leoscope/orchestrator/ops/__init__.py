"""What each RPC does, between decoding and encoding: authorize, decide (core), persist (store).

One module per domain. Every function is synchronous (the servicer runs it in a worker thread),
takes a `Ctx` first, and raises `core.errors` exceptions for refusals; the servicer turns those
into the wire answers the contract prescribes.
"""
