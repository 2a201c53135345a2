import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LabelsyncStack } from '../lib/labelsync-stack';

const app = new App();
new LabelsyncStack(app, 'Labelsync');
// Acknowledged findings live next to the resources they concern, each with its reason (lib/nag.ts).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
