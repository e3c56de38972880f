// Package embedded is cortexbench's default object storage: an S3-compatible
// endpoint served in-process on loopback over a local folder
// (.cortexbench/objects by default), so the S3 adapter in storage/s3 is the
// only object-storage code path, and any S3 client (the AWS CLI, boto3) can
// reach the buckets while the process runs.
//
// Objects are plain files under <Dir>/<bucket>/<key>, so they survive
// restarts and can be inspected without the server.
//
// The endpoint is gofakes3 over a folder backend written for this package
// (gofakes3's own s3afero backend does not paginate and can serve torn
// writes).
//
// # Security
//
// gofakes3 checks no signature and allows CORS from any origin, so it
// answers nothing directly: a guard in front of it (auth.go) serves only
// requests that
//
//   - are addressed to the endpoint's own loopback address and port in their
//     Host header (DNS rebinding), carry no foreign Origin and are not CORS
//     preflights (no Access-Control-* header is ever sent);
//   - are signed with AWS Signature Version 4 (Authorization header or
//     presigned URL) with the endpoint's credentials, dated within 15
//     minutes (presigned: not expired), with every x-amz-* header signed
//     and the declared payload SHA-256 checked against the body; or
//   - are anonymous reads (GET and HEAD of objects, listings) of the public
//     bucket.
//
// Two buckets: Config.Bucket ("cortexbench") holds everything private —
// benchmark data, brain RDMs, stimuli, models, caches, scores — and needs a
// signature for every request, reads included. Config.PublicBucket
// ("cortexbench-public") holds only what is published: the leaderboard
// snapshots that snapshot.Publish writes (with credentials). A reader of
// the published leaderboard therefore cannot list or read private objects:
// they are in a bucket it cannot reach.
//
// The credentials are generated with crypto/rand on the first start and
// kept in <Dir>/.s3-credentials (CredentialsPath), an AWS shared-credentials
// file with a [default] profile, mode 0600, reused on later starts (a file
// others may read is refused). Open returns a client already configured
// with them; Server.Credentials and Server.CredentialsFile expose them for
// other S3 clients:
//
//	AWS_SHARED_CREDENTIALS_FILE=.cortexbench/objects/.s3-credentials \
//	  aws --endpoint-url http://127.0.0.1:PORT s3 ls s3://cortexbench/
//	aws --no-sign-request --endpoint-url http://127.0.0.1:PORT \
//	  s3 cp s3://cortexbench-public/leaderboard/latest.json -
//
// # External S3
//
// With --s3-endpoint cortexbench uses the service's own access control, so
// the maintainer must set it up the same way:
//
//   - The private bucket (--s3-bucket) must not be public: block all public
//     access (AWS: S3 Block Public Access on the bucket and the account;
//     MinIO/versitygw: no anonymous policy), no bucket policy granting
//     Principal "*", no public ACLs, no CORS configuration. Only the
//     credentials cortexbench runs with may read or write it.
//
//   - Publish snapshots to a separate public bucket (--s3-public-bucket,
//     default <bucket>-public) whose policy grants anonymous s3:GetObject
//     (and s3:ListBucket if listing is wanted) and nothing else (policy
//     below). Writes to it stay limited to cortexbench's credentials.
//
//   - Never grant public read on the private bucket, not even on a prefix
//     such as leaderboard/: a prefix grant is one policy edit away from
//     exposing the private benchmarks, and listings would show private keys.
//
//   - Add a CORS rule to the public bucket only if a browser page must
//     fetch the snapshots, with the page's exact origin and GET/HEAD only.
//
// The public bucket's policy (AWS; MinIO and versitygw accept the same):
//
//	{"Version": "2012-10-17", "Statement": [{
//	  "Effect": "Allow", "Principal": "*",
//	  "Action": ["s3:GetObject", "s3:ListBucket"],
//	  "Resource": ["arn:aws:s3:::cortexbench-public",
//	               "arn:aws:s3:::cortexbench-public/*"]}]}
package embedded
