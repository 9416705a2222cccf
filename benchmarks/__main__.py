"""``make bench``: every benchmark in turn."""

from benchmarks import (
    audit_trail,
    consumer_api,
    export_checks,
    job_release,
    job_scale,
    masking_throughput,
    model_contents,
    privacy_compute,
    product_scoring,
    production_latency,
    sample_latency,
    spawn_latency,
)

for bench in (
    audit_trail,
    spawn_latency,
    masking_throughput,
    sample_latency,
    export_checks,
    model_contents,
    job_release,
    production_latency,
    product_scoring,
    consumer_api,
    job_scale,
    privacy_compute,
):
    print(f"== {bench.__name__}")
    bench.main()
