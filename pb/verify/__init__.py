"""Verification: what lets anyone check a round without trusting pb. Each chain's hashes
recomputed (chain), the public copy of a round's chain (public), its heads sent to
witnesses (witness), and the published results recounted from the stored ballot files
(results_check). It sits above the domains it checks (rounds, proposals, results) and
below the web and the lifecycle that use it; pb.audit, at the bottom, only writes."""
