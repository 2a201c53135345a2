/**
 * Mints API tokens against a deployed (or local) table.
 *
 *   npm run token -- create --org "Acme"                 new organization + token
 *   npm run token -- create --org-id <id> [--label ci]   another token for an existing organization
 *   options: --table <name> (default $LABELSYNC_TABLE), --region <r> (default $AWS_REGION),
 *            --endpoint <url> (DynamoDB Local; default $LABELSYNC_DYNAMODB_ENDPOINT), --help
 *
 * Prints the token once on stdout (only its SHA-256 is stored); everything else goes to stderr.
 */
import { parseArgs } from 'node:util';
import { createDocumentClient } from '../shared/db/client';
import { getOrg } from '../shared/db/repo-orgs';
import { createOrg, mintToken } from '../shared/api/tokens';

const USAGE = `usage: npm run token -- create (--org <name> | --org-id <id>) [--label <text>] [--table <name>] [--region <region>] [--endpoint <url>]

  create --org <name>        create an organization and its first token
  create --org-id <id>       another token for an existing organization
  --label <text>             a note stored with the token
  --table <name>             the labelsync table (the stack's TableName output); default $LABELSYNC_TABLE
  --region <region>          default $AWS_REGION, $AWS_DEFAULT_REGION, then us-east-1
  --endpoint <url>           DynamoDB endpoint (DynamoDB Local); default $LABELSYNC_DYNAMODB_ENDPOINT
  -h, --help                 this text

AWS credentials come from the usual chain (AWS_PROFILE, environment, SSO); they must be allowed to
write the table. The token is printed once on stdout; only its SHA-256 is stored.`;

function usage(msg?: string): never {
  if (msg) console.error(`error: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  org: { type: 'string' },
  'org-id': { type: 'string' },
  label: { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
} as const;

/** The parsed command line; a malformed one prints the usage (exit 2). */
function parseCommandLine() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS });
  } catch (e) {
    usage((e as Error).message);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine();
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals[0] !== 'create') usage(positionals[0] ? `unknown command '${positionals[0]}'` : undefined);
  const table = values.table ?? process.env.LABELSYNC_TABLE;
  if (!table) usage('--table or LABELSYNC_TABLE is required');
  if (!values.org === !values['org-id']) usage('give exactly one of --org and --org-id');
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const endpoint = values.endpoint ?? process.env.LABELSYNC_DYNAMODB_ENDPOINT;
  const db = { doc: createDocumentClient({ region, endpoint }), table };
  let orgId = values['org-id'];
  if (orgId) {
    if (!(await getOrg(db, orgId))) usage(`organization '${orgId}' does not exist in table ${table}`);
  } else {
    orgId = await createOrg(db, values.org!);
    console.error(`created organization '${values.org}' (id ${orgId})`);
  }
  const token = await mintToken(db, orgId, { label: values.label });
  console.error(`token for organization ${orgId} (shown once; use it as 'Authorization: Token <token>'):`);
  console.log(token);
  db.doc.destroy();
}

main().catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
});
