package registry

// ExecForTest runs a statement outside the schema migrations (tests create
// and drop PostgreSQL schemas with it).
func ExecForTest(r *Registry, sql string) error { return r.db.Exec(sql).Error }

// LatestSchemaVersion is the version of the last migration step.
var LatestSchemaVersion = migrations[len(migrations)-1].version

// LimitMigrationsForTest makes Open apply only the first n migrations (to
// build a database as an older version left it) until restore is called.
func LimitMigrationsForTest(n int) (restore func()) {
	all := migrations
	migrations = migrations[:n]
	return func() { migrations = all }
}
