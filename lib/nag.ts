import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';

/**
 * cdk-nag v3 acknowledgements (`Validations.of(x).acknowledge`), always with a reason. An
 * acknowledgement on a construct covers the resources beneath it.
 */
export function acknowledge(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: ruleId, reason });
}

/**
 * Acknowledges AwsSolutions-IAM5 for exactly these wildcard resources (one finding each), so any
 * other wildcard added later still fails the check. `resources` may contain CDK tokens: they are
 * rendered the way cdk-nag names the finding (`Resource::<Logical.Arn>/index/*`).
 */
export function acknowledgeWildcardResources(scope: IConstruct, resources: string[], reason: string): void {
  const stack = Stack.of(scope);
  for (const r of resources) {
    acknowledge(scope, `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(r))}]`, reason);
  }
}
