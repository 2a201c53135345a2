import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { build } from './synth';

const summary = (r: ReturnType<AwsSolutionsChecks['validateScope']>) =>
  r.violations.map((v) => `${v.ruleName} @ ${v.violatingResources.map((x) => x.constructPath).join(', ')}`);

describe('cdk-nag AwsSolutions', () => {
  // One stack for all cases (building it is the slow part): with bucket grants it has every finding
  // the default stack has, plus the bucket wildcards.
  const { app, stack } = build({ readableBuckets: 'arn:aws:s3:::source-a', writableBuckets: 'arn:aws:s3:::target' });

  it('reports no unacknowledged finding (default resources and readableBuckets/writableBuckets grants)', () => {
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(summary(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('still flags a wildcard nobody justified (acknowledgements are per finding)', () => {
    stack.functions.meta.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::anything/*'] }));
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(summary(report)).toEqual(['AwsSolutions-IAM5[Resource::arn:aws:s3:::anything/*] @ Labelsync/metaRole/DefaultPolicy/Resource']);
  });
});
