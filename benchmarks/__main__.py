"""``make bench``: every benchmark in turn."""

from benchmarks import audit_trail, masking_throughput, sample_latency, spawn_latency

for bench in (audit_trail, spawn_latency, masking_throughput, sample_latency):
    print(f"== {bench.__name__}")
    bench.main()
