import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../shared/db/schema';

/**
 * The service's state: the single DynamoDB table described by `shared/db/schema.ts` and the KMS key
 * used for application-level envelope encryption of storage secrets. Both are retained when the
 * stack is deleted: losing the key would make every stored secret unreadable.
 */
export interface DataProps {
  /**
   * Warm throughput of the table and each index (request units per second). A fresh on-demand
   * table absorbs about 4,000 writes/s at once and scales up from there; a big first sync can
   * need more from its first minute (see docs/deploy.md, "Table warm throughput").
   */
  warmThroughput?: dynamodb.WarmThroughput;
}

export class Data extends Construct {
  readonly table: dynamodb.Table;
  /** Wraps data keys of storage secrets (the secrets themselves are AES-GCM encrypted in the table). */
  readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props: DataProps = {}) {
    super(scope, id);
    const warmThroughput = props.warmThroughput && Object.values(props.warmThroughput).some((v) => v !== undefined) ? props.warmThroughput : undefined;
    const s = dynamodb.AttributeType.STRING;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: s },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: s },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType[TABLE_SCHEMA.stream],
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS managed key: encrypted at rest with a KMS key the account can audit, with no key policy
      // to maintain and no extra grants for readers (DynamoDB decrypts on their behalf).
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(warmThroughput ? { warmThroughput } : {}),
    });
    for (const g of TABLE_SCHEMA.globalIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: g.name,
        partitionKey: { name: g.partitionKey, type: s },
        sortKey: { name: g.sortKey, type: s },
        projectionType: dynamodb.ProjectionType.ALL,
        // Task writes also write gsi1 (annotations both): a cold index throttles the table's writes.
        ...(warmThroughput ? { warmThroughput } : {}),
      });
    }
    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: 'labelsync: envelope encryption of storage credentials',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
