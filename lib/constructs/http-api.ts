import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { ROUTES, type FunctionName } from '../../functions/manifest';
import { corsPolicy } from '../../shared/http/cors';

export interface HttpApiProps {
  /** Every function that answers HTTP (the manifest's route targets and `meta`). */
  functions: Record<FunctionName, lambda.IFunction>;
  corsOrigins: string[];
  rateLimit: number;
  burstLimit: number;
  logRetention: logs.RetentionDays;
}

/**
 * The public HTTP API (API Gateway HTTP API, payload v2). Routes come from `functions/manifest.ts`:
 * each prefix is registered as `ANY <path>` and `ANY <path>/{proxy+}` (handlers route on rawPath, so a
 * trailing slash works everywhere); everything else goes to `$default` → meta: the console's page
 * at `/` (the manifest's `/console` route carries its deep links and assets) and 404 JSON.
 * Authentication is the Label Studio `Authorization: Token` scheme, checked in the handlers.
 */
export class HttpApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  /** Base URL of the API (`https://<id>.execute-api.<region>.amazonaws.com`), no trailing slash. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    const integrationFor = (name: FunctionName): HttpLambdaIntegration => {
      let i = integrations.get(name);
      if (!i) {
        i = new HttpLambdaIntegration(`${name}Integration`, props.functions[name], {
          payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(name, i);
      }
      return i;
    };
    const cors = corsPolicy(props.corsOrigins);
    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'labelsync: Label-Studio-compatible storage API',
      createDefaultStage: false,
      defaultIntegration: integrationFor('meta'),
      corsPreflight: {
        allowOrigins: cors.allowOrigins,
        allowMethods: cors.allowMethods.map((m) => (m === '*' ? apigw.CorsHttpMethod.ANY : (m as apigw.CorsHttpMethod))),
        allowHeaders: cors.allowHeaders,
        exposeHeaders: cors.exposeHeaders,
        allowCredentials: cors.allowCredentials,
        maxAge: Duration.seconds(cors.maxAgeSeconds),
      },
    });
    for (const route of ROUTES) {
      const integration = integrationFor(route.fn);
      for (const path of [route.path, `${route.path}/{proxy+}`]) {
        this.api.addRoutes({ path, methods: [apigw.HttpMethod.ANY], integration });
      }
    }
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(accessLogs),
        // No query string or headers: resolve URLs carry signed media tokens.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            time: '$context.requestTimeEpoch',
            method: '$context.httpMethod',
            path: '$context.path',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            responseLength: '$context.responseLength',
          }),
        ),
      },
    });
    acknowledge(
      this.api,
      'AwsSolutions-APIG4',
      'Label Studio clients send "Authorization: Token <token>" (not a JWT, so no JWT authorizer); the handlers check it against hashed tokens in the table on every route but /health, and CORS preflight needs no auth.',
    );
    this.url = `https://${this.api.apiId}.execute-api.${this.api.stack.region}.${this.api.stack.urlSuffix}`;
  }
}
