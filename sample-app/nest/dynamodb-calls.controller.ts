import { Controller, Get, HttpException, Param } from '@nestjs/common';
import { callsResponse, DynamoDbCall } from '../dynamodb-calls';

/** Demo aid (see sample-app/dynamodb-calls.ts): `GET /api/calls/<id>` for the page's panel. Touches no session. */
@Controller('api/calls')
export class DynamoDbCallsController {
  @Get(':id')
  calls(@Param('id') id: string): { calls: readonly DynamoDbCall[] } {
    const answer = callsResponse(id);
    if (answer.status !== 200) throw new HttpException(answer.body, answer.status);
    return answer.body;
  }
}
