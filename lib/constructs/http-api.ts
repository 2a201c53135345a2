import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag';
import { ROUTES, type FunctionName } from '../../functions/manifest';

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
 * trailing slash works everywhere); everything else goes to `$default` → meta (404 JSON).
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
    const anyOrigin = props.corsOrigins.includes('*');
    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'labelsync: Label-Studio-compatible storage API',
      createDefaultStage: false,
      defaultIntegration: integrationFor('meta'),
      corsPreflight: {
        allowOrigins: anyOrigin ? ['*'] : props.corsOrigins,
        allowMethods: [apigw.CorsHttpMethod.ANY],
        allowHeaders: ['Authorization', 'Content-Type', 'Range', 'If-None-Match', 'If-Modified-Since'],
        // Media is streamed with ranges and cached by ETag; the UI reads these.
        exposeHeaders: ['Content-Length', 'Content-Range', 'Content-Disposition', 'ETag', 'Accept-Ranges'],
        // A header token, not cookies: credentials mode is neither needed nor allowed with '*'.
        allowCredentials: false,
        maxAge: Duration.hours(1),
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
