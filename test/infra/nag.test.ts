import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { synth } from './synth';

const summary = (r: ReturnType<AwsSolutionsChecks['validateScope']>) =>
  r.violations.map((v) => `${v.ruleName} @ ${v.violatingResources.map((x) => x.constructPath).join(', ')}`);

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding for the default stack', () => {
    const { app, stack } = synth();
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(summary(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('reports no unacknowledged finding with readableBuckets/writableBuckets grants', () => {
    const { app, stack } = synth({ readableBuckets: 'arn:aws:s3:::source-a', writableBuckets: 'arn:aws:s3:::target' });
    expect(summary(new AwsSolutionsChecks(app).validateScope(stack))).toEqual([]);
  });

  it('still flags a wildcard nobody justified (acknowledgements are per finding)', () => {
    const { app, stack } = synth();
    stack.functions.meta.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::anything/*'] }));
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    expect(summary(report)).toEqual(['AwsSolutions-IAM5[Resource::arn:aws:s3:::anything/*] @ Labelsync/metaRole/DefaultPolicy/Resource']);
  });
});
