"""Demo and test tooling (embedded Ceph S3 server, synthesised calls, broken recordings, `callqa demo`); not imported by the runtime packages."""
