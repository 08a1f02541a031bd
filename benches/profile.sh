# Sourced by the benchmark scripts once their arguments are read: stops them (exit 2)
# before any build or seed unless `$profile` names a world `mosaic seed` makes.
case "$profile" in
    ci|demo|bench) ;;
    *) echo "unknown profile $profile: expected ci, demo or bench" >&2; exit 2 ;;
esac
